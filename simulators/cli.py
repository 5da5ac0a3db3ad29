"""`yiju contract`: publish the contract's JSON Schemas and docs/contract.md, or check they are current."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simulators import schema

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
