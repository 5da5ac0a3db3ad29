"""A recorded series replayed as one device's telemetry, through its broker account and ingest."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import Settings
from core.contract.topics import Kind
from tests.factories import Fleet
from tests.processes import IngestProcess, wait_until


def _replay(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulators", "replay", *args],
        env=settings.to_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_series_lands_as_telemetry_and_bad_rows_are_named(
    settings: Settings, fleet: Fleet, ingest: IngestProcess, tmp_path: Path
) -> None:
    charger = fleet.add(Kind.EV_CHARGER)[0]
    start = datetime.now(UTC) - timedelta(hours=2)
    lines = ["timestamp,value,temp"]
    lines += [f"{(start + timedelta(minutes=i)).isoformat()},{i % 7}.5,{30 + i % 5}" for i in range(60)]
    lines.insert(10, f"{start.isoformat()},-4,30")  # negative power: the contract refuses it
    series = tmp_path / "power.csv"
    series.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = _replay(
        settings, "--device", charger.id, "--csv", str(series), "--column", "value=power_kw",
        "--column", "temp=temperature_c",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "replayed 60 rows" in done.stderr and "1 rows refused" in done.stderr
    assert f"{series}:11:" in done.stderr
    wait_until(lambda: fleet.count_rows("ev_charger_telemetry", [charger.id]) == 60, what="60 rows stored")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--column", "value=nonsense"], "has no settable field 'nonsense'"),
        (["--column", "value"], "column=field"),
        (["--time-column", "when"], "no column 'when'"),
        ([], "older than ingest accepts"),
    ],
)
def test_unusable_series_get_a_clear_error(
    settings: Settings, fleet: Fleet, tmp_path: Path, args: list[str], expected: str
) -> None:
    lift = fleet.add(Kind.ELEVATOR)[0]
    series = tmp_path / "nab.csv"
    series.write_text(
        "timestamp,value\n2014-02-14 14:30:00,0.12\n2014-02-14 14:35:00,0.13\n", encoding="utf-8"
    )
    done = _replay(settings, "--device", lift.id, "--csv", str(series), *args)
    message = " ".join(re.sub("[│╭╮╰╯─]", " ", done.stderr).split())  # unwrap typer's error box
    assert done.returncode == 2 and expected in message, done.stderr


def test_an_old_series_shifted_to_now_is_accepted(settings: Settings, fleet: Fleet, tmp_path: Path) -> None:
    lift = fleet.add(Kind.ELEVATOR)[0]
    series = tmp_path / "nab.csv"
    series.write_text(
        "timestamp,value\n2014-02-14 14:30:00,0.12\n2014-02-14 14:35:00,0.13\n", encoding="utf-8"
    )
    done = _replay(settings, "--device", lift.id, "--csv", str(series), "--shift-to-now")
    assert done.returncode == 0 and "replayed 2 rows" in done.stderr, done.stderr
