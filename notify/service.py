"""`yiju notify`: deliver the database's announcements of critical alarms to the broker and a webhook.

The database writes an announcement in the same transaction that opens a critical alarm or
changes its status (a trigger, migration 0012: analytics raising or clearing it, an operator
acknowledging it through the API) and NOTIFYs. This service LISTENs, and a courier per sink
delivers that sink's backlog in order from the sink's own cursor: so a sink that was away, or the
notifier itself after a crash, catches up. Delivery is at least once and in order per sink. An
announcement older than `notify_max_age_s` is skipped, not delivered late to someone's pager; one
a sink refuses for good (a 4xx from the webhook) is skipped after logging. Both are counted.

Analytics itself stays free of MQTT and HTTP (the house plan): it only writes alarms.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import msgspec
import psycopg
from psycopg.rows import dict_row
from tenacity import Retrying, retry_if_exception, wait_exponential

from core.config import Settings
from core.contract.payloads import AlarmNotice
from notify.queries import NOTIFY
from notify.sinks import Sink, from_settings

logger = logging.getLogger(__name__)

POLL_S = 10.0  # a courier looks at the outbox this often even without a NOTIFY
BATCH = 100
PRUNE_EVERY_S = 3600.0
KEEP_DAYS = 30
_ENCODER = msgspec.json.Encoder()


class Courier(threading.Thread):
    """Delivers the outbox to one sink, in order, moving the sink's cursor after each one."""

    def __init__(self, settings: Settings, sink: Sink, stop: threading.Event) -> None:
        super().__init__(name=f"yiju-notify-{sink.name}", daemon=True)
        self.settings = settings
        self.sink = sink
        self.counts = {"sent": 0, "skipped": 0, "expired": 0}
        self._stop_event = stop
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        self.sink.start()
        try:
            while not self._stop_event.is_set():
                try:
                    with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
                        self._serve(conn)
                except psycopg.OperationalError as error:
                    logger.warning("%s: database unavailable (%s); retrying", self.sink.name, error)
                    self._stop_event.wait(2.0)
                except Exception:  # a courier must outlive any one bad announcement
                    logger.exception("%s: delivery failed; retrying", self.sink.name)
                    self._stop_event.wait(5.0)
        finally:
            self.sink.close()

    def _serve(self, conn: psycopg.Connection[Any]) -> None:
        back_s = self.settings.notify_max_age_s
        conn.execute(NOTIFY.start_cursor, {"sink": self.sink.name, "back_s": back_s})
        while not self._stop_event.is_set():
            row = conn.execute(NOTIFY.cursor, {"sink": self.sink.name}).fetchone()
            seq = row[0] if row else 0
            with conn.cursor(row_factory=dict_row) as cur:
                backlog = cur.execute(NOTIFY.after, {"seq": seq, "limit": BATCH}).fetchall()
            for notice in backlog:
                if not self._deliver(notice):
                    return  # stopping: the cursor stays before this one
                conn.execute(NOTIFY.move, {"sink": self.sink.name, "seq": notice["seq"]})
            if len(backlog) < BATCH:
                self._wake.wait(POLL_S)
                self._wake.clear()

    def _pause(self, seconds: float) -> None:
        """Back off between attempts, cut short when stopping."""
        self._stop_event.wait(seconds)

    def _deliver(self, row: dict[str, Any]) -> bool:
        """Send one announcement, retrying while it may still succeed; False only when stopping."""
        fields = dict(row)
        seq, created_at = fields.pop("seq"), fields.pop("created_at")
        notice = AlarmNotice(id=fields.pop("alarm_id"), **fields)
        body = _ENCODER.encode(notice)
        deadline = created_at.timestamp() + self.settings.notify_max_age_s

        def give_up(_state: object) -> bool:
            return self._stop_event.is_set() or time.time() > deadline

        retrying = Retrying(
            retry=retry_if_exception(self.sink.retryable),
            wait=wait_exponential(multiplier=0.5, max=30),
            stop=give_up,
            sleep=self._pause,
            reraise=True,
        )
        try:
            if time.time() > deadline:
                raise TimeoutError("older than notify_max_age_s")
            retrying(self.sink.send, notice, body)
        except Exception as error:  # a sink that fails must not stop the next announcement
            if self._stop_event.is_set():
                return False
            outcome = "expired" if time.time() > deadline else "skipped"
            self.counts[outcome] += 1
            logger.warning("%s: alarm %d (notice %d) %s: %s", self.sink.name, notice.id, seq, outcome, error)
            return True
        self.counts["sent"] += 1
        logger.info("%s: announced alarm %d (%s, %s)", self.sink.name, notice.id, notice.type, notice.status)
        return True


class Notifier:
    """LISTENs for announcements and wakes a courier per sink; prunes the outbox now and then."""

    def __init__(self, settings: Settings, sinks: list[Sink] | None = None) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        found = from_settings(settings) if sinks is None else sinks
        self.couriers = [Courier(settings, sink, self.stop_event) for sink in found]

    def stop(self, _signum: int | None = None, _frame: FrameType | None = None) -> None:
        self.stop_event.set()
        for courier in self.couriers:
            courier.wake()

    def run(self) -> None:
        """Until `stop`; returns at once when no sink is configured."""
        if not self.couriers:
            logger.warning("no sink configured (YIJU_NOTIFY_MQTT_URL, YIJU_NOTIFY_WEBHOOK_URL)")
            return
        for courier in self.couriers:
            courier.start()
        pruned_at = 0.0
        while not self.stop_event.is_set():
            try:
                with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
                    conn.execute(NOTIFY.listen)
                    self._wake_all()  # what came while nobody listened
                    while not self.stop_event.is_set():
                        if any(True for _ in conn.notifies(timeout=1.0, stop_after=1)):
                            self._wake_all()
                        if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                            conn.execute(NOTIFY.prune, {"days": KEEP_DAYS})
                            pruned_at = time.monotonic()
            except psycopg.OperationalError as error:
                logger.warning("notify: database unavailable (%s); retrying", error)
                self.stop_event.wait(2.0)
        for courier in self.couriers:
            courier.join(timeout=10)

    def _wake_all(self) -> None:
        for courier in self.couriers:
            courier.wake()


def serve(settings: Settings) -> None:
    """Run the notifier until SIGTERM/SIGINT."""
    notifier = Notifier(settings)
    signal.signal(signal.SIGTERM, notifier.stop)
    signal.signal(signal.SIGINT, notifier.stop)
    logger.info(
        "notify: %s, started %s", [c.sink.name for c in notifier.couriers] or "no sinks", datetime.now(UTC)
    )
    notifier.run()
