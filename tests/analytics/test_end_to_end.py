"""Simulator with injected faults -> broker -> ingest -> `yiju analytics once` -> the expected alarms."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from analytics.evaluate import ALARM_FOR
from core.config import Settings
from core.db.tables import DEVICE_TABLES
from simulators import labels
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.community import load_community, resolve
from tests.processes import IngestProcess, wait_until

pytestmark = pytest.mark.slow

END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
START = END - timedelta(hours=6)
FAULTS = 10.0  # times the default rates, so that six hours hold a couple of dozen faults


def _run(settings: Settings, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args], env=settings.to_env(), capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_injected_faults_become_alarms(
    settings: Settings, conn: psycopg.Connection, ingest: IngestProcess, tmp_path: Path
) -> None:
    community = tmp_path / "e2e.yaml"
    source = resolve("demo").read_text(encoding="utf-8")
    community.write_text(
        source.replace("id: xueyuanjie", "id: e2etest").replace("prefix: xyj", "prefix: e2e")
    )
    definition = load_community(community)
    sim = Simulation([definition], START, END, 3, FaultRates().scaled(FAULTS))
    expected = Counter(DEVICE_TABLES[(e.kind, e.channel)].name for e in sim)
    ids = [d[0] for d in definition.devices()]
    window = ["--from", START.isoformat(), "--to", END.isoformat()]
    _run(settings, "simulators", "backfill", "--community", str(community), "--seed", "3",
         "--faults", str(FAULTS), *window, "--via", "mqtt", "--labels", str(tmp_path / "l.csv"))  # fmt: skip

    def stored() -> int:
        count = sql.SQL("SELECT count(*) FROM {} WHERE device_id = ANY(%s)")
        return sum(conn.execute(count.format(sql.Identifier(t)), (ids,)).fetchone()[0] for t in expected)  # type: ignore[index]

    wait_until(lambda: stored() >= sum(expected.values()), timeout=120, what="every message stored")
    _run(settings, "analytics", "once", *window)

    alarms = {
        (r[0], r[1])
        for r in conn.execute("SELECT device_id, type FROM anomalies WHERE device_id = ANY(%s)", (ids,))
    }
    reported = [
        r
        for r in labels.read_csv(tmp_path / "l.csv")
        if r["silent"] == "False" and r["fault_type"] in ALARM_FOR
    ]
    assert len(reported) >= 10
    missed = [r for r in reported if (r["device_id"], ALARM_FOR[r["fault_type"]]) not in alarms]
    assert not missed, missed
    severities = "SELECT DISTINCT severity FROM anomalies WHERE device_id = ANY(%s) AND type = 'entrapment'"
    if any(r["fault_type"] == "entrapment" for r in reported):
        assert conn.execute(severities, (ids,)).fetchall() == [("critical",)]
