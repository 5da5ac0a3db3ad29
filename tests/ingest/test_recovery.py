"""Crashes and restarts in the middle of a 50,000-message stream lose and duplicate nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import psutil

from core.config import Settings
from tests.factories import Fleet, Publisher
from tests.ingest.streams import run_with_fault
from tests.processes import ROOT, IngestProcess, wait_until


def test_kill_9_worker_mid_stream_then_restart(
    fleet: Fleet, gateway: Callable[[], Publisher], ingest: IngestProcess
) -> None:
    def crash() -> None:
        ingest.kill9()
        ingest.start()

    run_with_fault(fleet, gateway, crash)


def test_sigterm_mid_stream_drains_and_exits_cleanly(
    fleet: Fleet, gateway: Callable[[], Publisher], ingest: IngestProcess
) -> None:
    def stop_and_start() -> None:
        assert ingest.stop() == 0
        ingest.start()

    run_with_fault(fleet, gateway, stop_and_start)


def test_database_restart_mid_stream(
    fleet: Fleet, gateway: Callable[[], Publisher], ingest: IngestProcess
) -> None:
    def restart_db() -> None:
        subprocess.run(
            [ROOT / "scripts" / "services", "restart", "db"], check=True, stdout=subprocess.DEVNULL
        )

    run_with_fault(fleet, gateway, restart_db)
    assert ingest.health()["status"] == "ok"


def test_broker_restart_mid_stream(
    fleet: Fleet,
    gateway: Callable[[], Publisher],
    ingest: IngestProcess,
) -> None:
    def restart_broker() -> None:
        subprocess.run(
            [ROOT / "scripts" / "services", "restart", "broker"], check=True, stdout=subprocess.DEVNULL
        )

    try:
        run_with_fault(fleet, gateway, restart_broker)
    except AssertionError as failed:
        # say whether the broker came back without the worker's session (README, Guarantees)
        connects = [line for line in ingest.log.read_text().splitlines() if "session" in line]
        early = ROOT / ".local" / "log" / "mosquitto-stderr.log"  # the broker's restore (scripts/services)
        said = early.read_text().splitlines()[-20:] if early.exists() else []
        raise AssertionError(
            f"{failed}; the worker's session lines: {connects}; the broker before its log opened: {said}"
        ) from None
    wait_until(ingest.ready, 30, "ingest resubscribed")
    assert ingest.health()["sessions_lost"] == 0


def test_kill_9_one_of_two_shared_workers_mid_stream(
    settings: Settings, fleet: Fleet, gateway: Callable[[], Publisher]
) -> None:
    proc = IngestProcess(settings, workers=2)
    proc.start()
    try:
        assert proc.proc is not None
        supervisor = psutil.Process(proc.proc.pid)

        def workers() -> list[psutil.Process]:
            # multiprocessing also starts a resource tracker: keep only the live spawned workers
            found = []
            for child in supervisor.children():
                try:
                    if "spawn_main" in " ".join(child.cmdline()):
                        found.append(child)
                except psutil.NoSuchProcess:  # a zombie too (its subclass)
                    continue  # killed: not yet reaped by the supervisor, or reaped since children()
            return found

        wait_until(lambda: len(workers()) == 2, 30, "two workers")

        def crash_one() -> None:
            victim = workers()[-1]
            victim.kill()
            wait_until(
                lambda: len(workers()) == 2 and victim.pid not in {w.pid for w in workers()},
                30,
                "the supervisor to restart the worker",
            )

        run_with_fault(fleet, gateway, crash_one)
    finally:
        assert proc.stop() == 0
