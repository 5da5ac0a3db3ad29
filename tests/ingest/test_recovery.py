"""Crashes and restarts in the middle of a 50,000-message stream lose and duplicate nothing."""

from __future__ import annotations

import secrets
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import psutil
import psycopg
import pytest
from psycopg import sql

from core.broker.client import purge_sessions
from core.broker.dynsec import new_password
from core.config import Settings
from core.contract.topics import Kind
from core.db.tables import DEVICE_TABLES
from tests.factories import Fleet, Publisher
from tests.processes import ROOT, IngestProcess, wait_until

STREAM = 50_000
TABLES = sorted({t.name for t in DEVICE_TABLES.values()})
COUNT_ALL = sql.SQL(" UNION ALL ").join(
    sql.SQL("SELECT device_id, boot, seq FROM {} WHERE device_id = ANY(%(ids)s)").format(sql.Identifier(t))
    for t in TABLES
)


@pytest.fixture
def gateway(settings: Settings, fleet: Fleet) -> Iterator[Callable[[], Publisher]]:
    """Connect publishers as one account allowed on the fleet's topics, with a persistent session."""
    name = f"test-gw-{secrets.token_hex(3)}"
    password = new_password()
    acl = [{"acltype": "publishClientSend", "topic": f"community/{fleet.community_id}/#", "allow": True}]
    fleet.broker.ensure_service_account(name, password, name, acl)
    made: list[Publisher] = []

    def connect() -> Publisher:
        made.append(Publisher(settings, name, password, f"{name}-{len(made)}", persistent=True))
        return made[-1]

    yield connect
    for pub in made:
        pub.close()
    purge_sessions(fleet.settings.require_mqtt(), [f"{name}-{i}" for i in range(len(made))])
    fleet.broker.run(
        [{"command": "deleteClient", "username": name}, {"command": "deleteRole", "rolename": name}]
    )


def _stream(fleet: Fleet) -> list[tuple[str, bytes]]:
    devices = [d for kind in Kind for d in fleet.add(kind, 10, seed=7)]
    messages = []
    for i in range(STREAM):
        device = devices[i % len(devices)]
        channel, payload = device.messages.mixed()
        messages.append((device.topic(channel), payload))
    return messages


def _stored(fleet: Fleet) -> tuple[int, int]:
    """(rows, distinct messages) across every device table for the fleet."""
    try:
        with psycopg.connect(fleet.settings.database_url) as conn:
            rows = conn.execute(COUNT_ALL, {"ids": [d.id for d in fleet.devices]}).fetchall()
    except psycopg.OperationalError:  # the database is restarting
        return -1, -1
    return len(rows), len(set(rows))


def _run_with_fault(fleet: Fleet, gateway: Callable[[], Publisher], fault: Callable[[], None]) -> None:
    messages = _stream(fleet)
    pub = gateway()
    acked: list[object] = []
    sender = threading.Thread(target=lambda: acked.extend(pub.publish_all(messages, timeout=300)))
    sender.start()
    wait_until(lambda: _stored(fleet)[0] >= STREAM // 5, 120, "a fifth of the stream stored")
    fault()
    sender.join(300)
    assert len(acked) == STREAM and Counter(getattr(r, "value", r) for r in acked) == {0: STREAM}
    wait_until(lambda: _stored(fleet)[0] >= STREAM, 180, "the whole stream stored")
    assert _stored(fleet) == (STREAM, STREAM)


def test_kill_9_worker_mid_stream_then_restart(
    fleet: Fleet, gateway: Callable[[], Publisher], ingest: IngestProcess
) -> None:
    def crash() -> None:
        ingest.kill9()
        ingest.start()

    _run_with_fault(fleet, gateway, crash)


def test_sigterm_mid_stream_drains_and_exits_cleanly(
    fleet: Fleet, gateway: Callable[[], Publisher], ingest: IngestProcess
) -> None:
    def stop_and_start() -> None:
        assert ingest.stop() == 0
        ingest.start()

    _run_with_fault(fleet, gateway, stop_and_start)


def test_database_restart_mid_stream(
    fleet: Fleet, gateway: Callable[[], Publisher], ingest: IngestProcess
) -> None:
    def restart_db() -> None:
        subprocess.run(
            [ROOT / "scripts" / "services", "restart", "db"], check=True, stdout=subprocess.DEVNULL
        )

    _run_with_fault(fleet, gateway, restart_db)
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

    _run_with_fault(fleet, gateway, restart_broker)
    wait_until(ingest.ready, 30, "ingest resubscribed")


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
                except psutil.ZombieProcess:
                    continue  # killed, not yet reaped by the supervisor
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

        _run_with_fault(fleet, gateway, crash_one)
    finally:
        assert proc.stop() == 0
