"""Valid messages of every kind and channel land in their hypertables, once."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg import sql

from core.config import Settings
from core.contract.codec import encode
from core.contract.topics import Channel, Kind
from core.db.tables import DEVICE_TABLES
from tests.factories import Fleet, Publisher
from tests.processes import IngestProcess, wait_until


def _rejects(conn: psycopg.Connection, fleet: Fleet) -> list[tuple[str, str]]:
    pattern = f"community/{fleet.community_id}/%"
    rows = conn.execute(
        "SELECT reason, detail FROM ingest_rejects WHERE topic LIKE %s", (pattern,)
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_every_kind_and_channel_is_stored_field_for_field(
    settings: Settings, fleet: Fleet, ingest: IngestProcess, conn: psycopg.Connection
) -> None:
    sent = []
    for kind in Kind:
        (device,) = fleet.add(kind)
        pub = Publisher(settings, device.id, device.password)
        payloads = [
            (Channel.TELEMETRY, device.messages.telemetry()),
            (Channel.STATUS, device.messages.status()),
            (Channel.EVENT, device.messages.event()),
        ]
        messages = []
        for channel, payload in payloads:
            if payload is None:
                continue  # parking spaces have no events
            messages.append((device.topic(channel), encode(payload)))
            sent.append((device, channel, payload))
        pub.publish_all(messages)
        pub.close()

    def stored(device_id: str, channel: Channel, kind: Kind, seq: int) -> dict[str, object] | None:
        table = DEVICE_TABLES[(kind, channel)]
        query = sql.SQL("SELECT {} FROM {} WHERE device_id = %s AND seq = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, table.columns)), sql.Identifier(table.name)
        )
        row = conn.execute(query, (device_id, seq)).fetchone()
        return dict(zip(table.columns, row, strict=True)) if row else None

    wait_until(lambda: all(stored(d.id, c, d.kind, p.seq) for d, c, p in sent), 30, "every message stored")
    for device, channel, payload in sent:
        row = stored(device.id, channel, device.kind, payload.seq)
        assert row is not None
        expected = DEVICE_TABLES[(device.kind, channel)].row(device.id, payload)
        assert tuple(row.values()) == expected
    assert _rejects(conn, fleet) == []


def test_identical_redelivery_adds_no_row_and_no_reject(
    settings: Settings, fleet: Fleet, ingest: IngestProcess, conn: psycopg.Connection
) -> None:
    (device,) = fleet.add(Kind.PARKING_SPACE)
    payload = encode(device.messages.telemetry(datetime.now(UTC)))
    later = encode(device.messages.telemetry(datetime.now(UTC)))
    pub = Publisher(settings, device.id, device.password)
    pub.publish_all([(device.topic("telemetry"), payload)] * 3 + [(device.topic("telemetry"), later)])
    pub.close()
    wait_until(lambda: fleet.count_rows("parking_space_telemetry") >= 2, 30, "rows stored")
    # The last message is committed after the copies in the same or a later batch: all are handled.
    wait_until(lambda: ingest.health()["pending"] == 0, 30, "ingest idle")
    assert fleet.count_rows("parking_space_telemetry") == 2
    assert _rejects(conn, fleet) == []
