"""Logging set-up shared by every process."""

from __future__ import annotations

import logging


def setup_logging(level: str = "INFO") -> None:
    """One line per record, with process and logger names."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s",
    )
