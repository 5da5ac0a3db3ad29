"""A day of the demo community sent through the real broker and ingest (and by COPY) lands whole."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from core.config import Settings
from core.db.tables import DEVICE_TABLES
from simulators import labels
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.community import Community, load_community, resolve
from tests.processes import IngestProcess, wait_until

pytestmark = pytest.mark.slow

# a recent day, so that ingest accepts every timestamp
END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
START = END - timedelta(days=1)
TABLES = sorted({t.name for t in DEVICE_TABLES.values()})


def _expected(community: Community, seed: int) -> Counter[str]:
    sim = Simulation([community], START, END, seed, FaultRates())
    return Counter(DEVICE_TABLES[(e.kind, e.channel)].name for e in sim)


def _rows(conn: psycopg.Connection, prefix: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for table in TABLES:
        query = sql.SQL("SELECT count(*) FROM {} WHERE device_id LIKE %s AND ts >= %s AND ts < %s").format(
            sql.Identifier(table)
        )
        found[table] = conn.execute(query, (prefix + "-%", START, END)).fetchone()[0]  # type: ignore[index]
    return +found


def _backfill(settings: Settings, community: str, seed: int, via: str, out: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "simulators", "backfill", "--community", community, "--seed", str(seed),
         "--from", START.isoformat(), "--to", END.isoformat(), "--via", via, "--labels", str(out),
         "--labels-table"],
        env=settings.to_env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def test_one_day_through_broker_and_ingest(
    settings: Settings, conn: psycopg.Connection, ingest: IngestProcess, tmp_path: Path
) -> None:
    demo = load_community(resolve("demo"))
    expected = _expected(demo, seed=11)
    assert sum(expected.values()) > 20_000
    began = datetime.now(UTC)  # rejects before: retained statuses of earlier runs, unknown to this db
    output = _backfill(settings, "demo", 11, "mqtt", tmp_path / "labels.csv")
    assert "through MQTT" in output
    wait_until(lambda: _rows(conn, demo.prefix) == expected, timeout=120, what="every message stored")
    rejects = conn.execute(
        "SELECT count(*) FROM ingest_rejects WHERE topic LIKE %s AND received_at >= %s", ("%xyj-%", began)
    ).fetchone()
    assert rejects == (0,)
    sim = Simulation([demo], START, END, 11, FaultRates())
    written = labels.read_csv(tmp_path / "labels.csv")
    assert [(r["device_id"], r["fault_type"]) for r in written] == [
        (lb.device_id, lb.fault_type) for lb in sim.labels
    ]
    stored = conn.execute(
        "SELECT count(*) FROM fault_labels WHERE run_id = %s", (f"{demo.id}-s11-{START:%Y%m%dT%H%MZ}",)
    ).fetchone()
    assert stored == (len(sim.labels),)


def test_copy_fills_the_same_rows_and_a_rerun_adds_none(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    community = tmp_path / "copy.yaml"
    source = resolve("demo").read_text(encoding="utf-8")
    community.write_text(
        source.replace("id: xueyuanjie", "id: copytest").replace("prefix: xyj", "prefix: cpt")
    )
    definition = load_community(community)
    expected = _expected(definition, seed=4)
    assert "with COPY" in _backfill(settings, str(community), 4, "copy", tmp_path / "l.csv")
    assert _rows(conn, "cpt") == expected
    _backfill(settings, str(community), 4, "copy", tmp_path / "l.csv")
    assert _rows(conn, "cpt") == expected
