"""`yiju bench api`: latest state and a day's series at 50 concurrent clients, 30 days x 1,000 devices.

The history lives in a dedicated database (`<name>_bench_api`), filled inside PostgreSQL with
generate_series and kept for the next run when its shape is unchanged; its closed chunks are
ordered by device as the product's maintenance orders them. The API runs as `yiju api` in its
own process; the load comes from another process: wrk where it is installed, else
`python -m bench.api_load`.
"""

from __future__ import annotations

import logging
import random
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
import psycopg
from psycopg import sql

from api.security import Role
from api.service import access
from bench import api_wrk
from bench.api_queries import API_BENCH, FILL_VALUES, SERIES_FIELD
from bench.processes import ROOT, free_ports, run_load
from bench.report import percentile
from core.config import Settings
from core.db import maintenance
from core.db.migrate import migrate
from core.registry import service as registry

logger = logging.getLogger(__name__)

KINDS = tuple(FILL_VALUES)
PER_COMMUNITY = 50
TARGET_P99_MS = {"latest": 50.0, "series": 150.0}
QUANTILES = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99, 99.5, 99.9, 100)
"""Latency is kept at these percentiles (100: the slowest request)."""


@dataclass(frozen=True)
class ApiOptions:
    """How to run the API benchmark."""

    devices: int = 1000
    days: int = 30
    interval_s: int = 60
    clients: int = 50
    seconds: float = 20.0
    workers: int = 2
    refill: bool = False
    reorder: bool = True


@dataclass
class Scenario:
    """One query type under load."""

    name: str
    requests: int
    errors: int
    elapsed_s: float
    percentiles_ms: dict[float, float] = field(repr=False)  # QUANTILES -> latency
    api_cpu_ms: float = float("nan")  # API processes' CPU per request
    machine_busy: float = float("nan")  # share of all cores busy during the run

    @property
    def per_s(self) -> float:
        return (self.requests - self.errors) / self.elapsed_s

    def p(self, q: float) -> float:
        return self.percentiles_ms.get(float(q), float("nan"))


@dataclass
class ApiBenchResult:
    """What a run measured, and on what."""

    options: ApiOptions
    rows: int
    fill_s: float | None
    ordered_share: float  # of chunks, ordered by device
    warmed_mb: float | None  # of history read into the OS cache before the load (None: not)
    load_generator: str
    scenarios: list[Scenario]


def bench_url(settings: Settings) -> str:
    """The bench database next to the configured one."""
    base, name = settings.database_url.rsplit("/", 1)
    return f"{base}/{name.split('?')[0]}_bench_api"


def _shape(options: ApiOptions) -> tuple[int, int, int]:
    return options.devices, options.days, options.interval_s


def prepare(settings: Settings, options: ApiOptions) -> tuple[str, float | None]:
    """The bench database with its history (reused when its shape matches); seconds spent filling."""
    url = bench_url(settings)
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        exists = admin.execute(API_BENCH.database_exists, (name,)).fetchone() is not None
        if exists and options.refill:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = False
        if not exists:
            admin.execute(sql.SQL(API_BENCH.create_database).format(sql.Identifier(name)))
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(API_BENCH.create_meta)
        meta = conn.execute(API_BENCH.meta).fetchone()
        if meta is not None and tuple(meta[:3]) == _shape(options):
            return url, None
        if meta is not None or conn.execute(API_BENCH.devices).fetchone():
            raise RuntimeError(f"database {name} holds another shape of history: run with --refill")
        started = time.monotonic()
        _seed(conn, options)
        _fill(conn, options)
        return url, time.monotonic() - started


def _seed(conn: psycopg.Connection, options: ApiOptions) -> None:
    for c in range(-(-options.devices // PER_COMMUNITY)):
        community = f"bench-api-{c:03d}"
        registry.add_community(
            conn, id=community, name=f"压测小区{c}", district="西陵区", lat=30.7, lon=111.3
        )
        for d in range(c * PER_COMMUNITY, min(options.devices, (c + 1) * PER_COMMUNITY)):
            kind = KINDS[d % len(KINDS)]
            registry.add_device(conn, None, id=f"bench-api-{d:05d}", community_id=community, kind=kind)


def _fill(conn: psycopg.Connection, options: ApiOptions) -> None:
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=options.days)
    for kind, (columns, values) in FILL_VALUES.items():
        query = sql.SQL(API_BENCH.fill).format(
            table=sql.Identifier(f"{kind}_telemetry"),
            columns=sql.SQL(", ").join(map(sql.Identifier, ("device_id", "ts", "boot", "seq", *columns))),
            values=sql.SQL(values),  # constants of bench/api_queries.py
        )
        for day in range(options.days):
            lo = start + timedelta(days=day)
            conn.execute(
                query, {"lo": lo, "hi": lo + timedelta(days=1), "step_s": options.interval_s, "kind": kind}
            )
            logger.info("filled %s day %d/%d", kind, day + 1, options.days)
    conn.execute(API_BENCH.status, {"at": start})
    conn.execute(API_BENCH.analyze)
    conn.execute(API_BENCH.clear_meta)
    conn.execute(API_BENCH.record_meta, (*_shape(options), end))


def order_chunks(url: str, *, reorder: bool) -> float:
    """With `reorder`, order every closed chunk by device as maintenance does (kept for later
    runs); the share of chunks that are. Then a checkpoint, so that the gigabytes a fill or a
    reorder wrote reach the disk before the load starts: the first run after a refill gave latest
    p99 59 ms without it (the four runs that followed: 22-33 ms), and 29 ms with it."""
    with psycopg.connect(url, autocommit=True) as conn:
        if reorder:
            done = maintenance.reorder(conn, after=timedelta(0), limit=None)
            logger.info("ordered %d chunks by device", done)
        conn.execute(API_BENCH.checkpoint)
        return maintenance.ordered_share(conn)


def prewarm(url: str) -> float | None:
    """Read the history into the OS cache first; MB read (None where pg_prewarm is missing).

    Without it, a run on a machine whose page cache had dropped part of the 7.5 GB history
    spent most of the series scenario waiting on the disk (cores 68% busy, p99 1.3 s)."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(API_BENCH.prewarm_extension)
            row = conn.execute(API_BENCH.prewarm).fetchone()
    except psycopg.errors.FeatureNotSupported as error:  # the contrib module is not installed
        logger.warning("history not read into memory first: %s", error)
        return None
    assert row is not None
    return float(row[0])


def _paths(url: str, options: ApiOptions, count: int = 5000) -> dict[str, list[str]]:
    rng = random.Random(7)
    with psycopg.connect(url) as conn:
        devices = conn.execute(API_BENCH.devices).fetchall()
        meta = conn.execute(API_BENCH.meta).fetchone()
    assert meta is not None
    end: datetime = meta[3]
    latest, series = [], []
    for _ in range(count):
        device, kind = rng.choice(devices)
        latest.append(f"/v1/devices/{device}/latest")
        day = end - timedelta(days=rng.randrange(1, options.days + 1))
        window = f"start={day:%Y-%m-%dT%H:%M:%SZ}&end={day + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"
        series.append(f"/v1/devices/{device}/series?field={SERIES_FIELD[kind]}&{window}&bucket=1m")
    return {"latest": latest, "series": series}


def _wait_ready(base_url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API exited with {proc.returncode}; see .local/log/bench-api.log")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as resp:  # noqa: S310 (our own)
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the API did not become ready")


def _api_cpu_s(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds of the API's processes so far (uvicorn's supervisor and its workers)."""
    parent = psutil.Process(proc.pid)
    total = 0.0
    for process in (parent, *parent.children(recursive=True)):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _idle_and_total() -> tuple[float, float]:
    times = psutil.cpu_times()
    return times.idle + getattr(times, "iowait", 0.0), sum(times)


def run(settings: Settings, options: ApiOptions) -> ApiBenchResult:
    """Fill (or reuse) the history, start the API, load it with each scenario in turn."""
    url, fill_s = prepare(settings, options)
    ordered = order_chunks(url, reorder=options.reorder)
    warmed_mb = prewarm(url)
    # A key per client, as 50 operators' tools or apps would have (rate limits count per key).
    with psycopg.connect(url, autocommit=True) as conn:
        keys = [
            access.create_key(
                conn,
                role=Role.ADMIN,
                company_id=None,
                scopes=None,
                expires_in_days=1,
                label=f"bench client {n}",
                created_by="bench",
            )["key"]
            for n in range(options.clients)
        ]
    port = free_ports(1)
    env = settings.to_env(
        database_url=url,
        mqtt_admin_url=None,
        api_port=port,
        api_rate_limit="100000000/minute",
    )
    log = ROOT / ".local" / "log" / "bench-api.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "yiju", "api", "--workers", str(options.workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, proc)
        paths = _paths(url, options)
        common = {"base_url": base_url, "keys": keys, "clients": options.clients}
        load = _load(common, 3.0, paths["latest"] + paths["series"])  # warm-up
        scenarios = []
        for name, chosen in paths.items():
            cpu_before, (idle_before, total_before) = _api_cpu_s(proc), _idle_and_total()
            measured = _load(common, options.seconds, chosen)
            cpu_s, (idle, total) = _api_cpu_s(proc) - cpu_before, _idle_and_total()
            busy = 1 - (idle - idle_before) / max(1e-9, total - total_before)
            requests = int(measured["requests"])
            api_cpu_ms = 1000 * cpu_s / max(1, requests)
            scenarios.append(
                Scenario(
                    name, requests, int(measured["errors"]), float(measured["elapsed_s"]),
                    measured["percentiles_ms"], api_cpu_ms, busy,
                )
            )  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rows = options.devices * options.days * 86_400 // options.interval_s
    return ApiBenchResult(options, rows, fill_s, ordered, warmed_mb, load["generator"], scenarios)


def _load(common: dict[str, object], seconds: float, paths: list[str]) -> dict[str, Any]:
    """One closed-loop run: requests, errors, elapsed_s, percentiles_ms and the generator used."""
    spec = {**common, "seconds": seconds, "paths": paths}
    if api_wrk.available():
        return {**api_wrk.run(spec, QUANTILES), "generator": "wrk"}
    measured = run_load("bench.api_load", spec)
    latencies: list[float] = measured["latencies_ms"]
    errors = sum(n for status, n in measured["statuses"].items() if status != "200")
    return {
        "requests": len(latencies),
        "errors": errors,
        "elapsed_s": float(measured["elapsed_s"]),
        "percentiles_ms": {float(q): percentile(latencies, q) for q in QUANTILES},
        "generator": "python (bench/api_load.py)",
    }
