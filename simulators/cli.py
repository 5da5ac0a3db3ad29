"""`yiju contract` (JSON Schemas and docs/contract.md) and `yiju simulate` (seed, run)."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from api.security import Role
from api.service import access
from core.broker import dynsec
from core.broker.client import host_port
from core.config import get_settings
from core.logs import setup_logging
from core.registry.service import lookup, reset_credentials
from simulators import parking_app, runner, schema, service
from simulators.backfill import copy_history
from simulators.behaviour.base import LOCAL_TZ
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.community import Community, CommunityError, load_community, resolve
from simulators.generate import generate
from simulators.nab import write_corpus
from simulators.replay import ReplayError, Series, messages, parse_mapping
from simulators.runner import Clock, Sent
from simulators.transport import Account, Connections

contract_app = typer.Typer(help="Contract v1 as published to device vendors.", no_args_is_help=True)

OutDir = Annotated[Path, typer.Option("--out", help="docs directory to write to or check", file_okay=False)]


@contract_app.command("export")
def export(out: OutDir = schema.DEFAULT_OUT) -> None:
    """Write the JSON Schema files and contract.md generated from core/contract."""
    for path in schema.export(out):
        typer.echo(f"wrote {out / path}")


@contract_app.command("check")
def check(out: OutDir = schema.DEFAULT_OUT) -> None:
    """Exit 1 and list the published files that no longer match the code."""
    stale = schema.stale(out)
    if stale:
        for path in stale:
            typer.echo(f"stale: {out / path}", err=True)
        typer.echo("run `yiju contract export` and commit the result", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"contract files under {out} are current")


simulate_app = typer.Typer(help="Simulated devices speaking contract v1.", no_args_is_help=True)

CommunityOption = Annotated[
    str, typer.Option("--community", help="a bundled community ('demo') or a community YAML file")
]


def _load(name_or_path: str) -> Community:
    try:
        return load_community(resolve(name_or_path))
    except CommunityError as exc:
        raise typer.BadParameter(str(exc), param_hint="--community") from None


@simulate_app.command("seed")
def seed(
    community: CommunityOption = "demo",
    generate_n: Annotated[
        int, typer.Option("--generate", min=0, help="seed N synthetic communities instead")
    ] = 0,
    seed_value: Annotated[int, typer.Option("--seed", help="seed of --generate")] = 0,
) -> None:
    """Register communities, buildings, devices, spaces and device broker accounts (idempotent)."""
    communities = _communities(community, generate_n, seed_value)
    total: Counter[str] = Counter()
    for c, result in zip(communities, service.seed(get_settings(), communities), strict=True):
        total.update(result.added)
        total["devices defined"] += len(result.devices)
        typer.echo(f"{c.id} ({c.district} {c.name}): {_counts(result.added) or 'nothing to add'}")
    typer.echo(
        f"{len(communities)} communities, {total['devices defined']} devices defined; added: "
        f"{_counts(total - Counter({'devices defined': total['devices defined']})) or 'nothing'}"
    )


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items() if n)


def _communities(community: str, generate_n: int, seed_value: int) -> list[Community]:
    return generate(generate_n, seed=seed_value) if generate_n else [_load(community)]


def _when(value: str | None, default: datetime, option: str) -> datetime:
    if value is None:
        return default
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=LOCAL_TZ)


class Via(StrEnum):
    """How a backfill reaches the database."""

    MQTT = "mqtt"
    COPY = "copy"


GenerateOption = Annotated[int, typer.Option("--generate", min=0, help="N synthetic communities instead")]
SeedOption = Annotated[int, typer.Option("--seed", help="behaviour, faults and --generate seed")]
FaultsOption = Annotated[
    float, typer.Option("--faults", min=0, help="fault rates times this (0: none, 1: the defaults)")
]
EveryOption = Annotated[
    float | None, typer.Option("--every", min=1, help="heartbeat/idle telemetry period in seconds")
]
LabelsOption = Annotated[
    Path | None, typer.Option("--labels", dir_okay=False, help="labels CSV (default .local/labels/<run>.csv)")
]
LabelsTableOption = Annotated[bool, typer.Option("--labels-table", help="also write fault_labels")]


@simulate_app.command("run")
def run(
    community: CommunityOption = "demo",
    generate_n: GenerateOption = 0,
    seed_value: SeedOption = 0,
    speed: Annotated[
        float, typer.Option(min=1, help="simulated seconds per second until it catches up with now")
    ] = 1.0,
    start: Annotated[
        str | None, typer.Option(help="simulated start (ISO 8601; default now, or a day ago with --speed)")
    ] = None,
    duration: Annotated[float, typer.Option(min=0, help="wall seconds to run; 0 runs until Ctrl-C")] = 0,
    faults: FaultsOption = 1.0,
    every: EveryOption = None,
    labels_path: LabelsOption = None,
    labels_table: LabelsTableOption = False,
) -> None:
    """Run communities live, each device on its own connection; Ctrl-C sends every device's will."""
    communities = _communities(community, generate_n, seed_value)
    settings = get_settings()
    devices = sum(len(c.devices()) for c in communities)
    links = Connections(host_port(settings.require_mqtt()))
    sim: Simulation | None = None
    clock = Clock(datetime.now(UTC))
    try:
        with _stop_signals_interrupt():
            service.connect(settings, communities, links, _err)
            now = datetime.now(UTC)
            begin = _when(start, now - timedelta(days=1) if speed > 1 else now, "--start")
            period = timedelta(seconds=every) if every else None
            sim = Simulation(communities, begin, None, seed_value, FaultRates().scaled(faults), every=period)
            clock = Clock(begin, speed)
            _err(f"simulating {devices} devices from {begin:%Y-%m-%d %H:%M} UTC at {speed:g}x (live, MQTT)")
            stop_at = time.monotonic() + duration if duration else None
            emissions = itertools.takewhile(lambda _: stop_at is None or time.monotonic() < stop_at, sim)
            runner.publish(emissions, links, clock=clock, report=_live_report(clock))
    except KeyboardInterrupt:
        _err("stopping: every device disconnects with its will (offline status)")
    finally:
        links.close(wills=True)
    if sim is not None:
        path, n = service.save_labels(
            settings, sim, clock.now(), service.run_id(communities, seed_value, sim.start), labels_path,
            labels_table,
        )  # fmt: skip
        _err(f"simulator stopped after {links.published} messages; {n} injected faults in {path}")


@simulate_app.command("parking-app")
def parking_app_(
    key: Annotated[
        str | None,
        typer.Option(
            envvar="YIJU_PARKING_APP_KEY", help="a parking_app API key (default: make one for 30 days)"
        ),
    ] = None,
    api: Annotated[str, typer.Option(help="the API's base URL")] = "http://127.0.0.1:8000",
    community: CommunityOption = "demo",
    generate_n: GenerateOption = 0,
    seed_value: SeedOption = 0,
    per_day: Annotated[float, typer.Option(min=1, help="booking requests per community and day")] = 400,
    duration: Annotated[float, typer.Option(min=0, help="wall seconds to run; 0 runs until Ctrl-C")] = 0,
) -> None:
    """Drivers booking through the API in real time: requests, check-ins, check-outs, no-shows."""
    communities = _communities(community, generate_n, seed_value)
    settings = get_settings()
    setup_logging(settings.log_level)
    if key is None:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            made = access.create_key(
                conn, role=Role.PARKING_APP, company_id=None, scopes=None, expires_in_days=30,
                label="simulated parking app", created_by="simulator",
            )  # fmt: skip
        key = str(made["key"])
    now = datetime.now(UTC)
    end = now + timedelta(seconds=duration) if duration else now + timedelta(days=3650)
    app = parking_app.App.connect(api, key)
    stop = threading.Event()
    _err(f"parking app: about {per_day:g} requests a day in each of {len(communities)} communities -> {api}")
    try:
        with _stop_signals_interrupt():
            tally = parking_app.run(
                app, parking_app.intents(communities, now, end, seed_value, per_day),
                lambda: datetime.now(UTC), stop,
            )  # fmt: skip
    except KeyboardInterrupt:
        stop.set()
        tally = app.tally
    finally:
        app.close()
    _err(f"parking app stopped: {tally.booked} booked, refused {dict(tally.refused)},"
         f" {tally.checked_in} checked in, {tally.checked_out} out, {tally.errors} errors")  # fmt: skip


@simulate_app.command("backfill")
def backfill(
    community: CommunityOption = "demo",
    generate_n: GenerateOption = 0,
    seed_value: SeedOption = 0,
    from_: Annotated[
        str | None, typer.Option("--from", help="ISO 8601 start (default: a day before --to)")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="ISO 8601 end (default: now)")] = None,
    via: Annotated[
        Via, typer.Option(help="mqtt: the real pipeline; copy: straight into the database")
    ] = Via.MQTT,
    faults: FaultsOption = 1.0,
    every: EveryOption = None,
    labels_path: LabelsOption = None,
    labels_table: LabelsTableOption = False,
) -> None:
    """Send a stretch of history as fast as it goes, with a progress bar."""
    communities = _communities(community, generate_n, seed_value)
    settings = get_settings()
    end = _when(to, datetime.now(UTC), "--to")
    begin = _when(from_, end - timedelta(days=1), "--from")
    if begin >= end:
        raise typer.BadParameter("must be before --to", param_hint="--from")
    period = timedelta(seconds=every) if every else None
    sim = Simulation(communities, begin, end, seed_value, FaultRates().scaled(faults), every=period)
    how = "through MQTT (broker, ingest)" if via is Via.MQTT else "with COPY straight into the database"
    _err(f"backfilling {begin:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC {how}")
    with _progress(begin, end) as advance:
        if via is Via.MQTT:
            links = Connections(host_port(settings.require_mqtt()))
            service.connect(settings, communities, links, _err)
            try:
                sent = runner.publish(sim, links, clock=None, report=lambda s: advance(s.last_ts, s.messages))
            finally:
                links.close(wills=False)
            total = sent.messages
        else:
            service.seed(settings, communities)
            with psycopg.connect(settings.database_url) as conn:
                added = copy_history(conn, sim, lambda ts, n: advance(ts, n))
            total = sum(added.values())
        advance(end, total)
    path, n = service.save_labels(
        settings, sim, end, service.run_id(communities, seed_value, begin), labels_path, labels_table
    )
    _err(f"backfilled {total} messages {how}; {n} injected faults in {path}")


def _err(line: str) -> None:
    typer.echo(line, err=True)


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM, and SIGINT even when the process started with it ignored (as a script's background
    job does), stop a run as Ctrl-C does: wills sent, labels written."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _live_report(clock: Clock) -> Callable[[Sent], None]:
    started, last = time.monotonic(), [0, time.monotonic()]

    def report(sent: Sent) -> None:
        now = time.monotonic()
        rate = (sent.messages - last[0]) / max(now - last[1], 1e-9)
        last[:] = [sent.messages, now]
        _err(
            f"simulator: {sent.messages} messages in {now - started:.0f} s ({rate:.0f}/s), "
            f"simulated time {clock.now():%Y-%m-%d %H:%M:%S} UTC"
        )

    return report


@contextmanager
def _progress(begin: datetime, end: datetime) -> Iterator[Callable[[datetime | None, int], None]]:
    """A rich progress bar over simulated time, with the message count."""
    columns = (
        TextColumn("[progress.description]{task.description}"), BarColumn(), TaskProgressColumn(),
        TextColumn("{task.fields[messages]} messages"), TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    total = (end - begin).total_seconds()
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("backfill", total=total, messages=0)

        def advance(ts: datetime | None, messages: int) -> None:
            done = total if ts is None else min(total, (ts - begin).total_seconds())
            bar.update(task, completed=done, messages=messages)

        yield advance


@simulate_app.command("replay")
def replay(
    device: Annotated[str, typer.Option(help="a registered device id")],
    csv_path: Annotated[Path, typer.Option("--csv", dir_okay=False, help="the recorded series")],
    column: Annotated[
        list[str] | None, typer.Option(help="column=field (repeatable); default value=<the kind's field>")
    ] = None,
    time_column: Annotated[str, typer.Option(help="the timestamp column")] = "timestamp",
    speed: Annotated[float, typer.Option(min=0, help="0: as fast as it goes; N: N times real time")] = 0,
    shift_to_now: Annotated[bool, typer.Option(help="move the series so that its last row is now")] = False,
) -> None:
    """Publish a CSV series as one device's telemetry, through its own broker account."""
    settings = get_settings()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        found = lookup(conn, [device]).get(device)
    if found is None or found.decommissioned:
        raise typer.BadParameter(f"no active device {device!r} in the registry", param_hint="--device")
    try:
        series = Series(csv_path, found.kind, time_column, parse_mapping(found.kind, column or []))
        errors: list[str] = []
        emissions = list(
            messages(series, device, shift_to=datetime.now(UTC) if shift_to_now else None, errors=errors)
        )
    except ReplayError as error:
        raise typer.BadParameter(str(error), param_hint="--csv") from None
    with dynsec.connect(settings.require_mqtt_admin()) as broker:
        password = reset_credentials(broker, found).password
    links = Connections(host_port(settings.require_mqtt()))
    links.open([Account(device, found.kind, found.community_id, password)])
    clock = Clock(emissions[0].ts, speed) if speed and emissions else None
    try:
        with _stop_signals_interrupt():
            sent = runner.publish(emissions, links, clock=clock, report=lambda s: _err(f"{s.messages} sent"))
    finally:
        links.close(wills=False)
    for line in errors[:20]:
        _err(f"skipped {line}")
    _err(f"replayed {sent.messages} rows of {csv_path} as {device} telemetry; {len(errors)} rows refused")


@simulate_app.command("nab")
def nab_corpus(
    out: Annotated[Path, typer.Option(file_okay=False, help="directory to write data/ and labels/ under")],
    community: CommunityOption = "demo",
    days: Annotated[float, typer.Option(min=1, help="days simulated")] = 5,
    seed_value: SeedOption = 2,
) -> None:
    """A NAB-layout corpus of silent faults (one telemetry field per file, faults as windows)."""
    start = datetime(2026, 3, 2, tzinfo=LOCAL_TZ)
    written = write_corpus(out, _load(community), start, days, seed_value)
    _err(f"wrote {len(written)} series with {sum(written.values())} windows under {out}")
