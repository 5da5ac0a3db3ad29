"""python -m notify."""

import typer

from notify.cli import run

typer.run(run)
