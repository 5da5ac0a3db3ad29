"""Streams of device messages for the ingest tests, and what of them reached the database."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import psycopg
from psycopg import sql

from core.contract.topics import Kind
from core.db.tables import DEVICE_TABLES
from tests.factories import Fleet, Publisher
from tests.processes import wait_until

STREAM = 50_000
TABLES = sorted({t.name for t in DEVICE_TABLES.values()})
COUNT_ALL = sql.SQL(" UNION ALL ").join(
    sql.SQL("SELECT device_id, boot, seq FROM {} WHERE device_id = ANY(%(ids)s)").format(sql.Identifier(t))
    for t in TABLES
)


def stream(fleet: Fleet, count: int = STREAM) -> list[tuple[str, bytes]]:
    """`count` mixed messages from 10 new devices of every kind, as (topic, payload)."""
    devices = [d for kind in Kind for d in fleet.add(kind, 10, seed=7)]
    messages = []
    for i in range(count):
        device = devices[i % len(devices)]
        channel, payload = device.messages.mixed()
        messages.append((device.topic(channel), payload))
    return messages


def stored(fleet: Fleet) -> tuple[int, int]:
    """(rows, distinct messages) across every device table for the fleet."""
    try:
        with psycopg.connect(fleet.settings.database_url) as conn:
            rows = conn.execute(COUNT_ALL, {"ids": [d.id for d in fleet.devices]}).fetchall()
    except psycopg.OperationalError:  # the database is restarting
        return -1, -1
    return len(rows), len(set(rows))


def run_with_fault(
    fleet: Fleet, gateway: Callable[[], Publisher], fault: Callable[[], None], count: int = STREAM
) -> None:
    """Publish `count` messages, cause `fault` a fifth of the way in; all must be stored once."""
    messages = stream(fleet, count)
    pub = gateway()
    acked: list[object] = []
    raised: list[Exception] = []

    def send() -> None:
        try:
            acked.extend(pub.publish_all(messages, timeout=300))
        except Exception as error:  # said by the ack check below instead of lost with the thread
            raised.append(error)

    sender = threading.Thread(target=send)
    sender.start()
    wait_until(lambda: stored(fleet)[0] >= count // 5, 120, "a fifth of the stream stored")
    fault()
    sender.join(300)
    # this module is not a test file, so pytest does not rewrite its asserts: say what was seen
    if len(acked) != count:  # publish_all returns nothing until the last PUBACK: count them here
        so_far = Counter(getattr(r, "value", r) for r in dict(pub._acked).values())
        state = f"raised {raised[0]!r}" if raised else "still waiting" if sender.is_alive() else "ended"
        raise AssertionError(
            f"{len(acked)} of {count} messages acknowledged; publisher {state}; "
            f"PUBACKs received so far by reason code: {dict(so_far)}"
        )
    codes = Counter(getattr(r, "value", r) for r in acked)
    assert codes == {0: count}, f"PUBACK reason codes: {dict(codes)}"
    wait_until(lambda: stored(fleet)[0] >= count, 180, "the whole stream stored")
    assert stored(fleet) == (count, count)
