"""python -m ingest."""

from ingest.cli import app

app()
