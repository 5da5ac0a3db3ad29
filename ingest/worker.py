"""The worker base: batching, timing, retries, poison messages and clean shutdown.

Concrete workers implement `process` (one atomic batch) and `dead_letter` (one message that
the database refuses even alone); everything cross-cutting lives here, as in Zulip's queue
workers. A signal only asks the loop to stop; the loop then drains its batches and exits.

Two threads, so that reading MQTT and waiting on the database overlap: the main thread owns
the MQTT client (receives, batches, acknowledges); a writer thread commits one batch at a
time and hands it back. Only the main thread touches paho, only the writer the database.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import threading
import time
from types import FrameType

import psycopg
from psycopg_pool import PoolTimeout
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from ingest import metrics
from ingest.consumer import MqttSource
from ingest.models import Inbound

logger = logging.getLogger(__name__)

TRANSIENT = (psycopg.OperationalError, PoolTimeout)


class BatchWorker:
    """Pulls messages from a source, hands batches to `process`, acknowledges after commit."""

    def __init__(
        self,
        source: MqttSource,
        *,
        batch_size: int,
        batch_ms: int,
        drain_s: float = 20.0,
        stop_when_idle_s: float | None = None,
    ) -> None:
        self.source = source
        # Set for a worker that empties a session and ends: it stops once the source has been
        # connected this long with nothing received and everything received is committed.
        self.stop_when_idle_s = stop_when_idle_s
        self.batch_size = batch_size
        self.batch_s = batch_ms / 1000
        self.drain_s = drain_s
        self.stopping = False
        self.last_commit_at: float | None = None
        self.in_flight = 0  # messages handed to the writer and not yet acknowledged
        self._todo: queue.Queue[list[Inbound] | None] = queue.Queue(maxsize=1)
        self._done: queue.SimpleQueue[list[Inbound]] = queue.SimpleQueue()
        self._abandon = threading.Event()  # stop retrying: the database stayed away past the drain

    def process(self, items: list[Inbound]) -> None:
        """Validate and commit a batch atomically (raise to roll it back)."""
        raise NotImplementedError

    def dead_letter(self, item: Inbound, error: Exception) -> None:
        """Record one message the database refuses even on its own."""
        raise NotImplementedError

    def request_stop(self, signum: int, _frame: FrameType | None = None) -> None:
        logger.info("signal %s: draining and stopping", signum)
        self.stopping = True

    # --- main thread: MQTT ---------------------------------------------------------------------

    def run(self) -> None:
        """Loop until asked to stop, then commit what was received and disconnect."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
        writer = threading.Thread(target=self._write_loop, name="yiju-writer", daemon=True)
        writer.start()
        self.source.start()
        first_at = 0.0
        emptied = False
        while not self.stopping:
            self._ack_committed()
            pending = self.source.pending
            if not pending and self._emptied():
                emptied = True
                break
            if not pending:
                self.source.pump(timeout=0.2)
                first_at = time.monotonic()
                continue
            wait = first_at + self.batch_s - time.monotonic()
            if (len(pending) < self.batch_size and wait > 0) or self._todo.full():
                self.source.pump(timeout=max(min(wait, 0.01), 0.001))
                continue
            self._hand_over()
            first_at = time.monotonic()
        self._drain(writer)
        # an emptied session is ended only when everything it held is committed and acknowledged
        self.source.close(end_session=emptied and not self.source.pending and self.in_flight == 0)

    def _gauge_pending(self) -> None:
        if self.stop_when_idle_s is None:
            metrics.PENDING.set(len(self.source.pending) + self.in_flight)

    def _emptied(self) -> bool:
        idle = self.stop_when_idle_s
        return idle is not None and self.in_flight == 0 and self.source.idle_for() >= idle

    def _hand_over(self) -> None:
        items = self.source.pending[: self.batch_size]
        del self.source.pending[: self.batch_size]
        self.in_flight += len(items)
        metrics.RECEIVED.inc(len(items))
        self._gauge_pending()
        self._todo.put_nowait(items)

    def _ack_committed(self) -> None:
        while True:
            try:
                items = self._done.get_nowait()
            except queue.Empty:
                return
            self.source.ack(items)
            self.in_flight -= len(items)
            self._gauge_pending()

    def _drain(self, writer: threading.Thread) -> None:
        """Commit and acknowledge what was received, reading nothing new (the broker keeps that).

        Gives up after `drain_s` if the database stays away: unacknowledged messages are
        redelivered to the next worker that connects with this session.
        """
        deadline = time.monotonic() + self.drain_s
        while self.source.pending and time.monotonic() < deadline:
            self._ack_committed()
            if self._todo.full():
                time.sleep(0.005)
            else:
                self._hand_over()
        with contextlib.suppress(queue.Full):
            self._todo.put(None, timeout=max(deadline - time.monotonic(), 0.01))
        while writer.is_alive() and time.monotonic() < deadline:
            self._ack_committed()
            writer.join(timeout=0.01)
        if writer.is_alive() or self.source.pending:
            self._abandon.set()
            logger.warning(
                "database unavailable while stopping; the broker keeps the unacknowledged messages"
            )
            writer.join(timeout=5)
        self._ack_committed()

    # --- writer thread: database ---------------------------------------------------------------

    def _write_loop(self) -> None:
        while (items := self._todo.get()) is not None:
            if self._commit(items):
                self._done.put(items)

    def _commit(self, items: list[Inbound]) -> bool:
        started = time.perf_counter()
        retrying = Retrying(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_exponential_jitter(initial=0.2, max=10),
            stop=lambda _state: self._abandon.is_set(),  # while the database is away, keep trying
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            retrying(self._process_isolating_poison, items)
        except TRANSIENT:
            return False
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.BATCH_SIZE.observe(len(items))
        self.last_commit_at = time.time()
        if self.stop_when_idle_s is None:  # gauges describe the worker, not a session's drain
            metrics.LAST_COMMIT.set(self.last_commit_at)
            metrics.LAG.set(metrics.seconds_since(items[0].received_at))
        return True

    def _sleep(self, seconds: float) -> None:
        """Back off between retries, cut short when the worker gives up."""
        self._abandon.wait(seconds)

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        metrics.DB_RETRIES.inc()
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "database unavailable (%s); retry %d in %.1fs",
            str(error).strip()[:200],
            state.attempt_number,
            delay,
        )

    def _process_isolating_poison(self, items: list[Inbound]) -> None:
        """Commit the batch; if the database refuses it, split to find the message at fault."""
        try:
            self.process(items)
        except TRANSIENT:
            raise
        except psycopg.Error as error:
            if len(items) == 1:
                logger.warning("database refused a message on %s: %s", items[0].topic, error)
                self.dead_letter(items[0], error)
                return
            middle = len(items) // 2
            self._process_isolating_poison(items[:middle])
            self._process_isolating_poison(items[middle:])
