"""`yiju ingest --workers N`: worker processes on one subscription, restarted if they die.

A process is a replica when `ingest_replica_slots` is set: it claims the lowest free slot and
names its sessions after it (`<client id>-r<slot>-<worker>`), so that containers started with
`docker compose --scale ingest=N` never share a session and a restarted one takes its own back.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import time
from dataclasses import dataclass
from types import FrameType

import psycopg

from core.config import Settings
from core.db.maintenance import Maintainer
from core.db.pool import open_pool, wait_for_database
from core.logs import setup_logging
from ingest import metrics, store
from ingest.pipeline import IngestWorker
from ingest.sessions import LEASE_HELD, Janitor, Lease, SessionKeeper, claim_slot

logger = logging.getLogger(__name__)

SLOT_CHECK_S = 10.0
HELD_RETRY_S = 5.0  # a worker whose session is held elsewhere (being drained) tries again after this


@dataclass(frozen=True)
class Role:
    """What a worker is: its session name's stem, its subscription form, its chores."""

    base: str
    shared: bool
    maintains: bool  # worker 0 of this process also runs maintenance and the session janitor


def run_worker(settings: Settings, index: int, role: Role) -> int:
    """Run worker `index` until SIGTERM or until its lease is lost; returns an exit status."""
    name = f"{role.base}-{index}"
    wait_for_database(settings)
    keeper = SessionKeeper(settings, name)
    if not keeper.hold():
        logger.error(
            "session %s is held by another ingest process (the janitor draining it, or a second "
            "process with the same YIJU_INGEST_CLIENT_ID); not starting",
            name,
        )
        return LEASE_HELD
    pool = open_pool(settings, name=name, max_size=2, configure=store.prepare_connection)
    chores: list[Maintainer | Janitor] = []
    if index == 0 and role.maintains:
        chores = [Maintainer(settings), Janitor(settings)]
    server = None
    try:
        worker = IngestWorker(settings, pool, name, shared=role.shared)
        keeper.on_lost = lambda: setattr(worker, "stopping", True)
        keeper.start()
        if settings.ingest_metrics_port:
            server = metrics.serve(
                settings.ingest_metrics_host, settings.ingest_metrics_port + index, worker.health
            )
        for chore in chores:
            chore.start()
        logger.info("worker %s started", name)
        worker.run()
    except psycopg.OperationalError:
        logger.exception("worker %s could not reach the database", name)
        raise
    finally:
        for chore in chores:
            chore.stop()
        keeper.stop()
        if server:
            server.shutdown()
        pool.close()
        logger.info("worker %s stopped", name)
    return 0


def _child(settings: Settings, index: int, role: Role) -> None:
    setup_logging(settings.log_level)
    raise SystemExit(run_worker(settings, index, role))


def shares(settings: Settings, workers: int) -> bool:
    """Whether the workers split the stream on the shared subscription.

    Only one worker, not a replica, subscribes plainly, and only a plain subscription is restored
    after a broker restart (Mosquitto 2.0 does not restore shared ones from its persistence file;
    see `ingest/consumer.py`): with sharing, messages published before the workers resubscribe
    are lost.
    """
    return workers > 1 or settings.ingest_replica_slots > 0


def supervise(settings: Settings, workers: int) -> int:
    """Start the workers; on SIGTERM/SIGINT forward it and wait for them to drain."""
    if not shares(settings, workers):
        return run_worker(settings, 0, Role(settings.ingest_client_id, shared=False, maintains=True))
    logger.warning(
        "%d worker(s)%s on the shared subscription: messages published between a broker restart "
        "and the workers' resubscription find no subscriber and are lost (one worker without "
        "replica slots subscribes plainly, and Mosquitto restores that subscription)",
        workers,
        " per replica" if settings.ingest_replica_slots else "",
    )
    ctx = mp.get_context("spawn")
    procs: dict[int, mp.process.BaseProcess] = {}
    start_after: dict[int, float] = {}
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs.values():
            if proc.pid:
                proc.terminate()  # SIGTERM: each worker drains its batch

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    role = Role(settings.ingest_client_id, shared=True, maintains=True)
    slot = None
    if settings.ingest_replica_slots:
        slot = claim_slot(settings, lambda: stopping)
        if slot is None:
            return 0
        role = Role(f"{settings.ingest_client_id}-r{slot[1]}", shared=True, maintains=slot[1] == 0)
    status = 0
    checked_at = time.monotonic()
    while not stopping:
        for index in range(workers):
            proc = procs.get(index)
            if proc is not None and not proc.is_alive():
                logger.error("worker %d exited with %s; restarting", index, proc.exitcode)
                start_after[index] = time.monotonic() + (HELD_RETRY_S if proc.exitcode == LEASE_HELD else 0)
                procs.pop(index)
            if index not in procs and time.monotonic() >= start_after.get(index, 0):
                procs[index] = ctx.Process(
                    target=_child, args=(settings, index, role), name=f"ingest-{index}"
                )
                procs[index].start()
        if slot and time.monotonic() - checked_at > SLOT_CHECK_S:
            checked_at = time.monotonic()
            if not _slot_still_ours(slot[0]):
                logger.error("replica slot %d was taken while the database was away; stopping", slot[1])
                stop(signal.SIGTERM, None)
                status = 1
        time.sleep(0.5)
    for proc in procs.values():
        proc.join(timeout=30)
    if slot:
        slot[0].release()
    return status


def _slot_still_ours(lease: Lease) -> bool:
    try:
        return lease.confirm()
    except psycopg.OperationalError:
        return True  # cannot tell; the workers' own leases keep their sessions safe meanwhile
