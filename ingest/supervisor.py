"""`yiju ingest --workers N`: N worker processes sharing the subscription, restarted if they die."""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import time
from types import FrameType

from core.config import Settings
from core.logs import setup_logging
from ingest.pipeline import run_worker

logger = logging.getLogger(__name__)


def _child(settings: Settings, index: int, workers: int) -> None:
    setup_logging(settings.log_level)
    run_worker(settings, index, workers)


def supervise(settings: Settings, workers: int) -> None:
    """Start the workers; on SIGTERM/SIGINT forward it and wait for them to drain."""
    if workers == 1:
        run_worker(settings, 0)
        return
    ctx = mp.get_context("spawn")
    procs: dict[int, mp.process.BaseProcess] = {}
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs.values():
            if proc.pid:
                proc.terminate()  # SIGTERM: each worker drains its batch

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for index in range(workers):
            proc = procs.get(index)
            if proc is None or not proc.is_alive():
                if proc is not None:
                    logger.error("worker %d exited with %s; restarting", index, proc.exitcode)
                procs[index] = ctx.Process(
                    target=_child, args=(settings, index, workers), name=f"ingest-{index}"
                )
                procs[index].start()
        time.sleep(0.5)
    for proc in procs.values():
        proc.join(timeout=30)
