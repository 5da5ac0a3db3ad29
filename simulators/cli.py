"""`yiju contract`: publish the contract's JSON Schemas and docs/contract.md, or check they are current."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import psycopg
import typer

from core.broker import dynsec
from core.broker.client import host_port
from core.config import get_settings
from simulators import schema
from simulators.live import DEMO_COMMUNITY, DEMO_DEVICES, run_devices
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


@simulate_app.command("run")
def run(
    community: Annotated[str, typer.Option(help="community to simulate (only 'demo' for now)")] = "demo",
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between a device's messages")] = 2.0,
    duration: Annotated[float, typer.Option(min=0, help="seconds to run; 0 runs until Ctrl-C")] = 0,
) -> None:
    """Register the demo community and run its devices live, each with its own broker account."""
    if community != DEMO_COMMUNITY["id"]:
        raise typer.BadParameter(f"unknown community {community!r}; available: {DEMO_COMMUNITY['id']}")
    settings = get_settings()
    with (
        psycopg.connect(settings.database_url, autocommit=True) as conn,
        dynsec.connect(settings.require_mqtt_admin()) as broker,
    ):
        devices = seed_community(conn, broker, community=DEMO_COMMUNITY, devices=DEMO_DEVICES)
    typer.echo(f"simulating {len(devices)} devices of community {community!r} every {interval}s", err=True)
    sent = run_devices(
        devices,
        host_port(settings.require_mqtt()),
        interval_s=interval,
        duration_s=duration,
        report=lambda n: typer.echo(f"simulator: {n} messages published", err=True),
    )
    typer.echo(f"simulator stopped after {sent} messages", err=True)
