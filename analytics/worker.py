"""`yiju analytics run`: the continuous service, a fast and a slow cycle on one connection.

The fast cycle (every second) reads fault events and statuses, so that an entrapment becomes a
critical alarm within seconds of being ingested; the slow one (every minute) runs the telemetry
rules, heartbeats and patterns over a trailing window and clears quiet alarms; every 15 minutes the
learned detectors score the windows that closed. Each turn runs the fast cycle and at most one
longer step, so that an entrapment never waits behind more than one of them. Two slower jobs run on
threads of their own: the learned models are refitted every 6 hours, and the rules judging days of
history (phantom locker compartments, stuck parking sensors) run every 15 minutes. Each cycle, and
the history rules, keep their window's rows in memory and read only what was stored since their
last turn (`recent.py`). Signals only ask the loop to stop; a database outage is logged and retried.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg

from analytics import learned, service, store
from analytics.recent import Recent
from analytics.rules import Limits
from core.config import Settings
from core.contract.topics import Kind

logger = logging.getLogger(__name__)
AHEAD = timedelta(minutes=10)  # device clocks a little ahead still count (ingest allows the same)


class AnalyticsWorker:
    """Run the cycles until `stop()`."""

    def __init__(self, settings: Settings, limits: Limits | None = None) -> None:
        self.settings = settings
        self.limits = limits or Limits()
        self._stop = threading.Event()
        self._slow_due = 0.0
        self._learned_due = 0.0
        self._histories_due = 0.0
        self._historian: threading.Thread | None = None
        self._refit_due = 0.0
        self._models: dict[Kind, learned.Model] = {}
        self._fitter: threading.Thread | None = None
        self._learned_since: datetime | None = None
        reread = timedelta(seconds=settings.analytics_reread_s)
        self._fast_rows, self._slow_rows, self._learned_rows = Recent(reread), Recent(reread), Recent(reread)
        self._history_rows = Recent(reread)  # one history thread at a time uses it

    def stop(self, *_: object) -> None:
        self._stop.set()

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
                    while not self._stop.is_set():
                        started = time.monotonic()
                        self._cycle(conn, started)
                        pause = self.settings.analytics_fast_interval_s - (time.monotonic() - started)
                        self._stop.wait(max(0.0, pause))
            except psycopg.OperationalError as error:
                logger.warning("database unavailable (%s); retrying in 2 s", error)
                self._stop.wait(2.0)

    def _cycle(self, conn: psycopg.Connection, started: float) -> None:
        s, now = self.settings, datetime.now(UTC)
        since = service.fast_window_start(conn, now, timedelta(minutes=10))
        fast = service.run_once(
            conn, since, now + AHEAD, fast=True, limits=self.limits, reader=self._fast_rows.frames
        )
        if fast.changed:
            logger.info("fast cycle: %d detections, %d alarm changes", fast.detections, fast.changed)
        if started >= self._slow_due:
            self._slow(conn, started, now)
            return  # one long step per turn, so that the fast cycle comes round again within seconds
        if started >= self._refit_due and self._fitter is None:
            self._refit_due = started + s.analytics_learned_refit_s
            self._fitter = threading.Thread(target=self._fit, args=(now,), name="fit-learned", daemon=True)
            self._fitter.start()
        if started >= self._histories_due and self._historian is None:
            self._histories_due = started + service.HISTORIES_EVERY.total_seconds()
            self._historian = threading.Thread(
                target=self._histories, args=(now,), name="history-rules", daemon=True
            )
            self._historian.start()
        if self._models and started >= self._learned_due:
            self._learned(conn, started, now)

    def _slow(self, conn: psycopg.Connection, started: float, now: datetime) -> None:
        s = self.settings
        self._slow_due = started + s.analytics_slow_interval_s
        window = timedelta(seconds=s.analytics_slow_window_s)
        slow = service.run_once(
            conn, now - window, now + AHEAD, fast=False, limits=self.limits, reader=self._slow_rows.frames
        )
        quiet = store.clear_quiet(conn, timedelta(seconds=s.analytics_quiet_clear_s))
        logger.info(
            "slow cycle: %d rows (%d read), %d detections, %d alarm changes, %d quiet alarms cleared",
            slow.rows, self._slow_rows.rows_read, slow.detections, slow.changed, quiet,
        )  # fmt: skip

    def _fit(self, now: datetime) -> None:
        """Refit the learned models on a thread of its own (it takes seconds; the cycles go on)."""
        s = self.settings
        try:
            with psycopg.connect(s.database_url, autocommit=True) as conn:
                history = timedelta(seconds=s.analytics_learned_history_s)
                self._models = service.fit_learned(conn, now, history, s.analytics_learned_sample)
            logger.info("learned models fitted: %s", {str(k): m.detector for k, m in self._models.items()})
        except Exception:
            logger.exception("fitting the learned models failed; trying again in a minute")
            self._refit_due = time.monotonic() + 60
        finally:
            self._fitter = None

    def _histories(self, now: datetime) -> None:
        """The rules reading days of history, on a thread of their own: seconds at 10,000 devices,
        which must not hold up the fast cycle."""
        try:
            with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
                changed = service.run_histories(conn, now, self.limits, self._history_rows.frames)
            logger.info("history rules (compartments, stuck parking sensors): %d alarm changes", changed)
        except Exception:
            logger.exception("the history rules failed; trying again next time")
        finally:
            self._historian = None

    def _learned(self, conn: psycopg.Connection, started: float, now: datetime) -> None:
        s = self.settings
        self._learned_due = started + s.analytics_learned_interval_s
        since = self._learned_since or now - timedelta(seconds=s.analytics_learned_interval_s)
        context = timedelta(seconds=s.analytics_learned_context_s)
        cycle = service.run_learned(conn, self._models, since, now, context, self._learned_rows.frames)
        self._learned_since = cycle.until
        logger.info("learned cycle: %d rows (%d read), %d detections, %d alarm changes", cycle.rows,
                    self._learned_rows.rows_read, cycle.detections, cycle.changed)  # fmt: skip
