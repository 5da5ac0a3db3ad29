"""A simulated week of the demo community in the session's test database, filled once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from bench.grafana import fill
from core.config import Settings
from core.db import rollups
from core.db.tables import TELEMETRY_TABLES
from simulators.behaviour.faults import FaultRates
from simulators.community import load_community, resolve


@dataclass(frozen=True)
class Week:
    """The simulated window and the community in it."""

    start: datetime
    end: datetime
    community_id: str
    prefix: str


# Faults at 10x, and elevator faults often enough that every day of the week has some (at 10x,
# 14 elevators would go a whole day without one about one time in four).
RATES = FaultRates().scaled(10).model_copy(update={"elevator_fault": 0.5})


@pytest.fixture(scope="package")
def week(settings: Settings) -> Iterator[Week]:
    """The demo community's last simulated week (faults at 10x), alarms, rejects and fresh rollups."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=7)
    demo = load_community(resolve("demo"))
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        fill(conn, settings, [demo], (start, end), seed=7, rates=RATES)
        conn.execute(
            "INSERT INTO ingest_rejects (received_at, topic, reason, detail, payload, payload_size, worker)"
            " SELECT %s - make_interval(mins => n * 37), 'community/x/elevator/y/telemetry',"
            " (ARRAY['invalid_json', 'schema', 'unknown_device'])[1 + n %% 3], 'test', '\\x00', 1, 'test'"
            " FROM generate_series(1, 60) AS n",
            (end,),
        )
    yield Week(start, end, demo.id, demo.prefix)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        _remove(conn, demo.id, [d[0] for d in demo.devices()])


def _remove(conn: psycopg.Connection, community_id: str, devices: list[str]) -> None:
    """Leave the session's database as other packages' tests expect it."""
    for table in [*TELEMETRY_TABLES, *(r.name for r in rollups.ALL)]:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE device_id = ANY(%s)").format(sql.Identifier(table)), (devices,)
        )
    conn.execute("DELETE FROM ingest_rejects WHERE worker = 'test'")
    conn.execute("DELETE FROM rollup_invalidations")
    conn.execute("DELETE FROM anomalies WHERE community_id = %s", (community_id,))
    conn.execute("DELETE FROM chargers WHERE device_id = ANY(%s)", (devices,))
    conn.execute("DELETE FROM parking_bookings WHERE community_id = %s", (community_id,))
    conn.execute("DELETE FROM parking_refusals WHERE community_id = %s", (community_id,))
    for table in ("parking_spaces", "devices", "buildings"):
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE community_id = %s").format(sql.Identifier(table)), (community_id,)
        )
    conn.execute("DELETE FROM communities WHERE id = %s", (community_id,))
