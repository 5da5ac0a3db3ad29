"""`yiju api` (serve with uvicorn), `yiju auth` (API keys for bootstrap and automation) and
`yiju parking` (the periodic tick of live parking state)."""

from __future__ import annotations

import os
import time
from typing import Annotated

import psycopg
import typer
import uvicorn
from rich.console import Console

from api.errors import ApiError
from api.metrics import multiprocess_dir
from api.security import Role, Scope
from api.service import access, parking_live
from core.config import get_settings
from core.logs import setup_logging

console = Console(stderr=True)
auth_app = typer.Typer(help="API keys.", no_args_is_help=True)
parking_app = typer.Typer(help="Shared parking.", no_args_is_help=True)


def run(
    workers: Annotated[
        int | None, typer.Option(min=1, max=32, help="uvicorn worker processes (default YIJU_API_WORKERS)")
    ] = None,
) -> None:
    """Serve the HTTP API on YIJU_API_HOST:YIJU_API_PORT (Swagger UI at /docs, metrics at /metrics)."""
    if workers is not None:
        os.environ["YIJU_API_WORKERS"] = str(workers)  # the workers size their pools by it
    settings = get_settings()
    setup_logging(settings.log_level)
    workers = settings.api_workers
    with multiprocess_dir(workers):
        uvicorn.run(
            "api.main:create_app",
            factory=True,
            host=settings.api_host,
            port=settings.api_port,
            workers=workers,
            proxy_headers=True,
            forwarded_allow_ips=settings.api_forwarded_allow_ips,
            access_log=False,
            log_config=None,
        )


@auth_app.command("create-key")
def create_key(
    role: Annotated[Role, typer.Option("--role")],
    company: Annotated[
        str | None, typer.Option("--company", help="company id (operator, integrator)")
    ] = None,
    expires: Annotated[int | None, typer.Option("--expires", min=1, max=3650, help="days")] = None,
    scope: Annotated[
        list[Scope] | None, typer.Option("--scope", help="repeat; default: all of the role")
    ] = None,
    label: Annotated[str, typer.Option("--label")] = "",
    owner: Annotated[str | None, typer.Option("--owner", help="owner id (owner keys)")] = None,
) -> None:
    """Create an API key and print it once (stdout); the audit log names the CLI as its creator."""
    settings = get_settings()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        try:
            created = access.create_key(
                conn,
                role=role,
                company_id=company,
                scopes=scope,
                expires_in_days=expires or settings.api_key_expiry_days,
                label=label,
                created_by="cli",
                owner_id=owner,
            )
        except ApiError as error:
            console.print(f"[red]error:[/red] {error.message}")
            raise typer.Exit(code=2) from None
    console.print(f"key {created['id']} ({role.value}) expires {created['expires_at']:%Y-%m-%d %H:%M %Z}")
    typer.echo(created["key"])


@auth_app.command("create-company")
def create_company(
    id: Annotated[str, typer.Option("--id")],
    name: Annotated[str, typer.Option("--name")],
) -> None:
    """Register a property-management company (keys of operators and integrators belong to one)."""
    settings = get_settings()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        try:
            access.create_company(conn, id=id, name=name, actor="cli")
        except ApiError as error:
            console.print(f"[red]error:[/red] {error.message}")
            raise typer.Exit(code=2) from None
    console.print(f"company {id!r} added")


@auth_app.command("revoke-key")
def revoke_key(key_id: Annotated[str, typer.Argument(help="the key's id (yiju_<id>_...)")]) -> None:
    """Revoke an API key at once."""
    settings = get_settings()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        try:
            access.revoke_key(conn, key_id=key_id, actor="cli")
        except ApiError as error:
            console.print(f"[red]error:[/red] {error.message}")
            raise typer.Exit(code=2) from None
    console.print(f"key {key_id} revoked")


@parking_app.command("tick")
def parking_tick(
    every: Annotated[
        bool, typer.Option("--every/--once", help="repeat every YIJU_PARKING_TICK_INTERVAL_S until stopped")
    ] = False,
) -> None:
    """Bind bookings near arrival, match gate passages, release no-shows, move bookings off overstays."""
    settings = get_settings()
    setup_logging(settings.log_level)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        while True:
            started = time.monotonic()
            done = parking_live.tick(conn, settings)
            console.print(", ".join(f"{k}: {v}" for k, v in sorted(done.items())))
            if not every:
                return
            time.sleep(max(0.0, settings.parking_tick_interval_s - (time.monotonic() - started)))
