"""The composition root: each package contributes its own commands; nothing imports this."""

from __future__ import annotations

import typer

from analytics.cli import app as analytics_app
from api import cli as api_cli
from bench.cli import app as bench_app
from core.cli import broker_app, communities_app, db_app, devices_app
from core.config import SettingsError
from grafana.cli import app as grafana_app
from ingest import cli as ingest_cli
from notify import cli as notify_cli
from simulators.cli import contract_app, simulate_app

app = typer.Typer(help="Yiju (宜居): smart-community IoT and facilities operations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(broker_app, name="broker")
app.add_typer(communities_app, name="communities")
app.add_typer(devices_app, name="devices")
app.add_typer(contract_app, name="contract")
app.add_typer(simulate_app, name="simulate")
app.command("ingest")(ingest_cli.run)
app.add_typer(bench_app, name="bench")
app.add_typer(analytics_app, name="analytics")
app.command("api")(api_cli.run)
app.command("notify")(notify_cli.run)
app.add_typer(api_cli.auth_app, name="auth")
app.add_typer(api_cli.parking_app, name="parking")
app.add_typer(grafana_app, name="grafana")


def main() -> None:
    """Entry point with a clear message on bad settings."""
    try:
        app()
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
