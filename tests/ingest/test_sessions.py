"""Replicas claim their own sessions, and a session left without a worker is drained, not lost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import psycopg
import pytest

from core.broker.client import host_port, make_client, purge_sessions
from core.config import Settings
from ingest.sessions import LEASE_HELD
from tests.factories import Fleet, Publisher
from tests.ingest.streams import run_with_fault, stored, stream
from tests.processes import IngestProcess, wait_until


@pytest.fixture
def replicas(settings: Settings) -> Iterator[Callable[[], IngestProcess]]:
    """Start ingest processes as compose replicas: four slots, sessions orphaned after 2 s."""
    as_replica = settings.model_copy(update={"ingest_replica_slots": 4, "ingest_orphan_after_s": 2.0})
    started: list[IngestProcess] = []

    def start() -> IngestProcess:
        proc = IngestProcess(as_replica)
        proc.start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
    purge_sessions(settings.require_mqtt(), [f"{settings.ingest_client_id}-r{k}-0" for k in range(4)])


def _session(proc: IngestProcess) -> str:
    return str(proc.health()["worker"])


def _session_present(settings: Settings, client_id: str) -> bool:
    """Whether the broker still keeps a session for `client_id` (connects as it, changes nothing)."""
    present: list[bool] = []
    client = make_client(settings.require_mqtt(), client_id)
    client.on_connect = lambda _c, _u, flags, _r, _p: present.append(flags.session_present)
    client.connect(*host_port(settings.require_mqtt()), clean_start=False)
    while not present:
        client.loop(timeout=0.1)
    client.disconnect()
    return present[0]


def test_replicas_take_distinct_slots_and_a_killed_one_takes_its_own_back(
    settings: Settings, fleet: Fleet, gateway: Callable[[], Publisher], replicas: Callable[[], IngestProcess]
) -> None:
    first, second = replicas(), replicas()
    base = settings.ingest_client_id
    assert (_session(first), _session(second)) == (f"{base}-r0-0", f"{base}-r1-0")

    def crash_and_restart() -> None:
        second.kill9()
        second.start()
        assert _session(second) == f"{base}-r1-0"

    run_with_fault(fleet, gateway, crash_and_restart, count=20_000)


def test_a_replica_scaled_away_has_its_queued_messages_stored_and_its_session_ended(
    settings: Settings, fleet: Fleet, gateway: Callable[[], Publisher], replicas: Callable[[], IngestProcess]
) -> None:
    first, second = replicas(), replicas()
    gone = _session(second)
    assert second.stop() == 0  # scaled down: it never comes back
    # the broker goes on handing the stopped replica its share of the shared subscription
    count = 4_000
    messages = stream(fleet, count)
    acked = gateway().publish_all(messages, timeout=120)
    assert Counter(getattr(r, "value", r) for r in acked) == {0: count}
    wait_until(lambda: stored(fleet)[0] >= count, 60, "the stopped replica's share stored by the janitor")
    assert stored(fleet) == (count, count)

    def sessions() -> set[str]:
        with psycopg.connect(settings.database_url) as conn:
            return {r[0] for r in conn.execute("SELECT client_id FROM ingest_sessions")}

    wait_until(lambda: gone not in sessions(), 30, "the janitor to end the drained session")
    assert _session(first) in sessions()
    assert not _session_present(settings, gone)


def test_a_second_process_with_the_same_client_id_refuses_to_start(
    settings: Settings, ingest: IngestProcess
) -> None:
    twin = IngestProcess(settings)
    with pytest.raises(RuntimeError, match=f"exited with {LEASE_HELD}"):
        twin.start(timeout_s=30)
    assert ingest.health()["subscribed"] is True


def test_messages_published_while_every_replica_is_down_wait_for_them(
    settings: Settings, fleet: Fleet, gateway: Callable[[], Publisher], replicas: Callable[[], IngestProcess]
) -> None:
    first = replicas()
    assert first.stop() == 0
    count = 2_000
    acked = gateway().publish_all(stream(fleet, count), timeout=120)
    assert Counter(getattr(r, "value", r) for r in acked) == {0: count}
    first.start()
    wait_until(lambda: stored(fleet)[0] >= count, 60, "the stream stored after the restart")
    assert stored(fleet) == (count, count)


def test_a_session_the_broker_no_longer_holds_is_reported(settings: Settings, ingest: IngestProcess) -> None:
    """A worker coming back to no session says so: what was queued for it is gone."""
    wait_until(ingest.ready, 30, "ingest subscribed")
    assert ingest.health()["sessions_lost"] == 0
    # as a broker started without its persistence file would: the session is discarded
    purge_sessions(settings.require_mqtt(), [_session(ingest)])
    wait_until(lambda: ingest.health()["sessions_lost"] == 1, 30, "the lost session reported")
    wait_until(ingest.ready, 30, "ingest subscribed again")
    assert "no longer holds session" in ingest.log.read_text()
