"""python -m analytics (the same as `yiju analytics`)."""

from analytics.cli import app

app()
