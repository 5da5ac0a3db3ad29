"""The worker base: batching, timing, retries, poison messages and clean shutdown.

Concrete workers implement `process` (one atomic batch) and `dead_letter` (one message that
the database refuses even alone); everything cross-cutting lives here, as in Zulip's queue
workers. A signal only asks the loop to stop; the loop then drains its batch and exits.
"""

from __future__ import annotations

import logging
import signal
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

    def __init__(self, source: MqttSource, *, batch_size: int, batch_ms: int) -> None:
        self.source = source
        self.batch_size = batch_size
        self.batch_s = batch_ms / 1000
        self.stopping = False
        self.last_commit_at: float | None = None

    def process(self, items: list[Inbound]) -> None:
        """Validate and commit a batch atomically (raise to roll it back)."""
        raise NotImplementedError

    def dead_letter(self, item: Inbound, error: Exception) -> None:
        """Record one message the database refuses even on its own."""
        raise NotImplementedError

    def request_stop(self, signum: int, _frame: FrameType | None = None) -> None:
        logger.info("signal %s: draining and stopping", signum)
        self.stopping = True

    def run(self) -> None:
        """Loop until asked to stop, then commit what was received and disconnect."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        self.source.start()
        first_at = 0.0
        while not self.stopping:
            pending = self.source.pending
            if not pending:
                self.source.pump(timeout=0.2)
                first_at = time.monotonic()
                continue
            wait = first_at + self.batch_s - time.monotonic()
            if len(pending) < self.batch_size and wait > 0:
                self.source.pump(timeout=wait)
                continue
            self.flush()
            first_at = time.monotonic()
        self.flush(draining=True)
        self.source.close()

    def flush(self, *, draining: bool = False) -> None:
        """Commit everything pending (in batches), retrying while the database is away."""
        while self.source.pending:
            items = self.source.pending[: self.batch_size]
            del self.source.pending[: self.batch_size]
            metrics.PENDING.set(len(self.source.pending) + len(items))
            if not self._commit(items, draining=draining):
                return  # stopping while the database is down: the broker keeps the messages
            self.source.ack(items)
        metrics.PENDING.set(0)

    def _commit(self, items: list[Inbound], *, draining: bool) -> bool:
        started = time.perf_counter()
        retrying = Retrying(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_exponential_jitter(initial=0.2, max=10),
            # While the database is away, keep retrying; once asked to stop, give up soon.
            stop=lambda state: self.stopping and (draining or state.attempt_number > 3),
            sleep=self._wait_pumping,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            retrying(self._process_isolating_poison, items)
        except TRANSIENT:
            logger.warning("database unavailable while stopping; %d messages left unacknowledged", len(items))
            return False
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.BATCH_SIZE.observe(len(items))
        self.last_commit_at = time.time()
        metrics.LAST_COMMIT.set(self.last_commit_at)
        metrics.LAG.set(metrics.seconds_since(items[0].received_at))
        return True

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

    def _wait_pumping(self, delay: float) -> None:
        """Sleep `delay` while keeping the broker connection alive (no acks are sent)."""
        until = time.monotonic() + delay
        while (left := until - time.monotonic()) > 0 and not self.stopping:
            self.source.pump(timeout=min(left, 0.5))
