"""The parking API under booking load: p50/p99 and throughput of POST /v1/parking/bookings at N
concurrent clients with M active bookings, the API as `yiju api` in its own process and the load
from `python -m bench.parking_load`, another process (the machinery of `yiju bench api`).

The bench database (`<name>_bench_parking`) keeps its communities and spaces; each run replaces
their bookings with `bookings` fresh ones (one 09:00-17:00 stay a day per space).
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from analytics.parking.model import BUFFER_MINUTES
from api.security import Role
from api.service import access
from bench.api import _api_cpu_s, _wait_ready
from bench.api_queries import API_BENCH
from bench.parking_queries import PARKING_BENCH
from bench.processes import ROOT, free_ports, run_load
from bench.report import percentile
from core.config import Settings
from core.db.migrate import migrate

logger = logging.getLogger(__name__)

COMMUNITIES = 20
DAYS = 5
TARGET_P99_MS = 30.0


def bench_url(settings: Settings) -> str:
    base, name = settings.database_url.rsplit("/", 1)
    return f"{base}/{name.split('?')[0]}_bench_parking"


def prepare(settings: Settings, bookings: int) -> tuple[str, str, list[str], datetime]:
    """The bench database with `bookings` active bookings; (url, API key, communities, day 0)."""
    url = bench_url(settings)
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        if admin.execute(API_BENCH.database_exists, (name,)).fetchone() is None:
            admin.execute(sql.SQL(API_BENCH.create_database).format(sql.Identifier(name)))
    migrate(url)
    spaces_each = math.ceil(bookings / DAYS / COMMUNITIES)
    day0 = datetime.now(ZoneInfo(settings.api_timezone)).replace(hour=0, minute=0, second=0, microsecond=0)
    with psycopg.connect(url, autocommit=True) as conn:
        key = access.create_key(
            conn, role=Role.PARKING_APP, company_id=None, scopes=None, expires_in_days=1, label="bench",
            created_by="bench",
        )  # fmt: skip
        conn.execute(PARKING_BENCH.communities, {"communities": COMMUNITIES})
        conn.execute(PARKING_BENCH.spaces, {"spaces": spaces_each})
        communities = [r[0] for r in conn.execute(PARKING_BENCH.community_ids).fetchall()]
        conn.execute(PARKING_BENCH.forget_changes)
        conn.execute(PARKING_BENCH.forget)
        conn.execute(PARKING_BENCH.forget_refusals)
        params = {
            "key": key["id"], "day0": day0, "days": DAYS, "spaces": math.ceil(bookings / DAYS),
            "buffer": BUFFER_MINUTES,
        }  # fmt: skip
        conn.execute(PARKING_BENCH.bookings, params)
        conn.execute(PARKING_BENCH.analyze)
    return url, key["key"], communities, day0


def run(
    settings: Settings,
    bookings: int = 10_000,
    clients: int = 50,
    seconds: float = 20,
    workers: int = 2,
    rate: float | None = None,
) -> dict[str, Any]:
    """Book at `clients` concurrent connections for `seconds`, back to back or, with `rate`, that
    many requests a second in all (`bench.parking_load`); latency percentiles and throughput."""
    url, key, communities, day0 = prepare(settings, bookings)
    port = free_ports(1)
    env = settings.to_env(
        database_url=url,
        mqtt_admin_url=None,
        api_port=port,
        api_rate_limit="100000000/minute",
    )
    log = ROOT / ".local" / "log" / "bench-parking-api.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "yiju", "api", "--workers", str(workers)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    spec = {"base_url": base_url, "key": key, "clients": clients, "communities": communities}
    try:
        _wait_ready(base_url, proc)
        run_load(
            "bench.parking_load",
            {**spec, "seconds": 3.0, "day0": (day0 + timedelta(days=DAYS + 1)).isoformat(), "run": "warm"},
        )
        cpu_before = _api_cpu_s(proc)
        measured = run_load(
            "bench.parking_load",
            {**spec, "seconds": seconds, "day0": day0.isoformat(), "run": secrets.token_hex(3), "rate": rate},
        )
        cpu_s = _api_cpu_s(proc) - cpu_before
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    latencies: list[float] = measured["latencies_ms"]
    statuses: dict[str, int] = measured["statuses"]
    answered = statuses.get("201", 0) + statuses.get("409", 0)
    by_status: dict[str, list[float]] = measured["latencies_by_status"]
    split = {
        f"{name}_p{q}_ms": percentile(by_status.get(code, []), q)
        for name, code in (("booked", "201"), ("refused", "409"))
        for q in (50, 99)
    }
    return {
        "api_p50_ms": percentile(latencies, 50),
        "api_p99_ms": percentile(latencies, 99),
        "api_max_ms": max(latencies, default=float("nan")),
        "requests": len(latencies),
        "per_s": answered / float(measured["elapsed_s"]),
        "booked": statuses.get("201", 0),
        "refused": statuses.get("409", 0),
        "errors": len(latencies) - answered,
        "statuses": statuses,
        **split,
        "api_cpu_ms": 1000 * cpu_s / max(1, len(latencies)),
        "active_bookings": bookings,
        "clients": clients,
        "rate": rate,
        "workers": workers,
        "target_p99_ms": TARGET_P99_MS,
    }


if __name__ == "__main__":
    # python -m bench.parking_api [SECONDS] [RATE,RATE,...]: back to back, then at each rate
    from core.config import get_settings

    length = float(sys.argv[1]) if len(sys.argv) > 1 else 20
    rates = [float(r) for r in sys.argv[2].split(",")] if len(sys.argv) > 2 else []
    for offered in [None, *rates]:
        print(json.dumps(run(get_settings(), seconds=length, rate=offered), indent=2), flush=True)
