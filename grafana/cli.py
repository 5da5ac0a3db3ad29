"""`yiju grafana build|sync`: dashboards from their builders, and a push to a running Grafana."""

from __future__ import annotations

from typing import Annotated

import typer
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaException

from core.config import get_settings
from core.logs import setup_logging
from grafana import files
from grafana.sync import desired, sync

app = typer.Typer(help="Operators' dashboards, data source and alert rules as code.", no_args_is_help=True)


@app.command()
def build(
    check: Annotated[
        bool, typer.Option(help="only report dashboards that differ from their builders")
    ] = False,
) -> None:
    """Write grafana/dashboards/*/*.json from grafana/boards/ (or check they are current)."""
    if check:
        if stale := files.stale():
            typer.echo("stale: " + ", ".join(str(p.relative_to(files.ROOT)) for p in stale), err=True)
            raise typer.Exit(1)
        typer.echo("dashboards are current")
        return
    changed = files.write()
    typer.echo(
        f"{len(changed)} dashboards written" + "".join(f"\n  {p.relative_to(files.ROOT)}" for p in changed)
    )


@app.command("sync")
def sync_command(
    url: Annotated[str | None, typer.Option(help="Grafana's URL [default: YIJU_GRAFANA_URL]")] = None,
    token: Annotated[
        str | None, typer.Option(help="service-account token [default: YIJU_GRAFANA_TOKEN]")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="print what would change, change nothing")] = False,
) -> None:
    """Push the data source, folders, dashboards, alert rules and contact point, keyed by uid."""
    settings = get_settings()
    setup_logging(settings.log_level)
    url, token = url or settings.grafana_url, token or settings.grafana_token
    if not url or not token:
        raise typer.BadParameter("give --url and --token (or YIJU_GRAFANA_URL and YIJU_GRAFANA_TOKEN)")
    api = GrafanaApi.from_url(url, credential=token)
    want = desired(settings.grafana_database_url or settings.database_url)
    try:
        changes = sync(api, want, dry_run=dry_run)
    except GrafanaException as error:
        typer.echo(f"error: Grafana answered {error.status_code}: {error.message}", err=True)
        raise typer.Exit(1) from None
    for change in changes:
        typer.echo(str(change))
    done = sum(c.action != "unchanged" for c in changes)
    typer.echo(
        f"{done} to change (dry run)" if dry_run else f"{done} changed, {len(changes) - done} unchanged"
    )
