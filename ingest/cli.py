"""`yiju ingest` / `python -m ingest`."""

from __future__ import annotations

from typing import Annotated

import typer

from core.config import get_settings
from core.logs import setup_logging
from ingest.supervisor import supervise

app = typer.Typer(help="Take every device message from MQTT into TimescaleDB.")


@app.command()
def run(
    workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes")] = 1,
) -> None:
    """Run ingest until SIGTERM: one worker subscribes plainly, several share the subscription."""
    settings = get_settings()
    setup_logging(settings.log_level)
    status = supervise(settings, workers)
    if status:
        raise typer.Exit(status)
