"""`yiju contract` (JSON Schemas and docs/contract.md) and `yiju simulate` (seed, run)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import psycopg
import typer

from core.broker import dynsec
from core.broker.client import host_port
from core.config import get_settings
from simulators import schema
from simulators.community import Community, CommunityError, load_community, resolve
from simulators.generate import generate
from simulators.live import LiveDevice, run_devices
from simulators.seed import seed_community

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
    communities = generate(generate_n, seed=seed_value) if generate_n else [_load(community)]
    settings = get_settings()
    total: Counter[str] = Counter()
    with (
        psycopg.connect(settings.database_url, autocommit=True) as conn,
        dynsec.connect(settings.require_mqtt_admin()) as broker,
    ):
        for c in communities:
            result = seed_community(conn, broker, c)
            total.update(result.added)
            total["devices defined"] += len(result.devices)
            typer.echo(f"{c.id} ({c.district} {c.name}): {_counts(result.added) or 'nothing to add'}")
    typer.echo(
        f"{len(communities)} communities, {total['devices defined']} devices defined; added: "
        f"{_counts(total - Counter({'devices defined': total['devices defined']})) or 'nothing'}"
    )


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items() if n)


@simulate_app.command("run")
def run(
    community: CommunityOption = "demo",
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between a device's messages")] = 2.0,
    duration: Annotated[float, typer.Option(min=0, help="seconds to run; 0 runs until Ctrl-C")] = 0,
) -> None:
    """Seed a community and run its devices live, each with its own (freshly reset) broker account."""
    definition = _load(community)
    settings = get_settings()
    with (
        psycopg.connect(settings.database_url, autocommit=True) as conn,
        dynsec.connect(settings.require_mqtt_admin()) as broker,
    ):
        # Passwords are never stored, so the simulator sets new ones to log in with.
        result = seed_community(conn, broker, definition, reset_passwords=True)
    devices = [LiveDevice(i, kind, definition.id, result.passwords[i]) for i, kind in result.devices.items()]
    typer.echo(
        f"simulating {len(devices)} devices of community {definition.id!r} every {interval}s", err=True
    )
    sent = run_devices(
        devices,
        host_port(settings.require_mqtt()),
        interval_s=interval,
        duration_s=duration,
        report=lambda n: typer.echo(f"simulator: {n} messages published", err=True),
    )
    typer.echo(f"simulator stopped after {sent} messages", err=True)
