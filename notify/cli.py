"""`yiju notify`."""

from __future__ import annotations

from core.config import get_settings
from core.logs import setup_logging
from notify.service import serve


def run() -> None:
    """Announce critical alarms (opened, acknowledged, cleared) on MQTT and to the webhook."""
    settings = get_settings()
    setup_logging(settings.log_level)
    serve(settings)
