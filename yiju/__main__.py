"""python -m yiju."""

from yiju.cli import app

app()
