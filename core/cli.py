"""Commands of the shared core: `yiju db`, `yiju broker`, `yiju communities`, `yiju devices`."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import unquote

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from core.broker import dynsec
from core.broker.client import purge_sessions
from core.config import get_settings
from core.contract.topics import Kind
from core.db import maintenance, stats
from core.db.migrate import migrate
from core.db.pool import wait_for_database
from core.logs import setup_logging
from core.registry import service as registry

console = Console(stderr=True)
db_app = typer.Typer(help="Database schema and upkeep.", no_args_is_help=True)
broker_app = typer.Typer(help="Broker accounts (Mosquitto dynamic security).", no_args_is_help=True)
communities_app = typer.Typer(help="Communities on the city map.", no_args_is_help=True)
devices_app = typer.Typer(help="Devices and their MQTT credentials.", no_args_is_help=True)


_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$")


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations (safe to run twice)."""
    settings = get_settings()
    setup_logging(settings.log_level)
    wait_for_database(settings)
    applied = migrate(settings.database_url)
    console.print(
        f"migrations applied: {len(applied)}" + "".join(f"\n  {m.version:04d} {m.name}" for m in applied)
    )


@db_app.command("maintain")
def db_maintain() -> None:
    """Run retention and rollup refresh once (the ingest service also runs it on a schedule)."""
    settings = get_settings()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        console.print(maintenance.run_once(conn, settings))


@db_app.command("stats")
def db_stats(window: Annotated[str, typer.Option(help="PostgreSQL interval")] = "10 minutes") -> None:
    """Print rows per device table and rejects by reason over a recent window."""
    settings = get_settings()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        rows = stats.recent_rows(conn, window)
        rejects = stats.recent_rejects(conn, window)
        seconds = stats.window_seconds(conn, window)
    stored = sum(count for _, count, _ in rows)
    rate = f"{stored / seconds:.1f} messages/s stored" if seconds > 0 else ""
    table = Table(title=f"Yiju ingest, last {window}", caption=rate)
    for column in ("table", "rows", "last ingested"):
        table.add_column(column)
    for name, count, last in rows:
        table.add_row(name, str(count), last.isoformat(timespec="seconds") if last else "-")
    for reason, count in rejects:
        table.add_row(f"[yellow]rejected: {reason}[/yellow]", str(count), "")
    Console().print(table)


@broker_app.command("bootstrap")
def broker_bootstrap() -> None:
    """Create or update the ingest account from YIJU_MQTT_URL, and the notifier's account (it announces
    critical alarms) from YIJU_NOTIFY_MQTT_URL if set, with their ACLs."""
    settings = get_settings()
    url, notifier = settings.require_mqtt(), settings.notify_mqtt_url
    if not url.username or not url.password:
        raise _fail("YIJU_MQTT_URL must carry the ingest account's user and password")
    if notifier is not None and (not notifier.username or not notifier.password):
        raise _fail("YIJU_NOTIFY_MQTT_URL must carry the notifier account's user and password")
    with dynsec.connect(settings.require_mqtt_admin()) as broker:
        broker.ensure_ingest_account(url.username, url.password)
        console.print(f"broker account {url.username!r} ready")
        if notifier is not None:
            broker.ensure_notify_account(unquote(notifier.username or ""), unquote(notifier.password or ""))
            console.print(f"broker account {notifier.username!r} ready")


@broker_app.command("add-alarm-reader")
def broker_add_alarm_reader(
    username: Annotated[str, typer.Option("--username", help="the operator tool's MQTT username")],
    communities: Annotated[list[str], typer.Option("--community", help="repeat for each community")],
) -> None:
    """Create a read-only account for an operator's tool (or give it a new password and more
    communities): it may subscribe to community/<id>/alarms/# of these communities only. Prints the
    password once."""
    settings = get_settings()
    if not _USERNAME.match(username):
        raise _fail(f"--username must match {_USERNAME.pattern}")
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        unknown = [c for c in communities if not registry.community_exists(conn, c)]
    if unknown:
        raise _fail(f"no such communities: {', '.join(unknown)}")
    password = dynsec.new_password()
    with dynsec.connect(settings.require_mqtt_admin()) as broker:
        try:
            broker.ensure_alarm_reader(username, password, communities)
        except dynsec.BrokerAdminError as error:
            raise _fail(str(error)) from None
    typer.echo(f"username={username}\npassword={password}")


@broker_app.command("forget-sessions")
def broker_forget_sessions(client_ids: Annotated[list[str], typer.Argument(help="MQTT client ids")]) -> None:
    """Make the broker drop persistent sessions and their queued messages (e.g. a finished demo's)."""
    settings = get_settings()
    purge_sessions(settings.require_mqtt(), client_ids)
    console.print(f"sessions dropped: {', '.join(client_ids)}")


@communities_app.command("add")
def communities_add(
    id: Annotated[str, typer.Option("--id")],
    name: Annotated[str, typer.Option("--name")],
    district: Annotated[str, typer.Option("--district")],
    lat: Annotated[float, typer.Option("--lat")],
    lon: Annotated[float, typer.Option("--lon")],
) -> None:
    """Register a community."""
    settings = get_settings()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        try:
            registry.add_community(conn, id=id, name=name, district=district, lat=lat, lon=lon)
        except registry.RegistryError as error:
            raise _fail(str(error)) from None
    console.print(f"community {id!r} added")


@devices_app.command("add")
def devices_add(
    community: Annotated[str, typer.Option("--community")],
    kind: Annotated[Kind, typer.Option("--kind")],
    id: Annotated[str, typer.Option("--id")],
    location: Annotated[str, typer.Option("--location")] = "",
) -> None:
    """Register a device and print its MQTT username and password (shown once)."""
    settings = get_settings()
    with (
        psycopg.connect(settings.database_url) as conn,
        dynsec.connect(settings.require_mqtt_admin()) as broker,
    ):
        try:
            creds = registry.add_device(
                conn, broker, id=id, community_id=community, kind=kind, location=location
            )
        except (registry.RegistryError, dynsec.BrokerAdminError) as error:
            raise _fail(str(error)) from None
    assert creds is not None
    typer.echo(f"username={creds.username}\npassword={creds.password}")
