"""What `yiju simulate` does, below its options: accounts, runs, labels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import psycopg

from core.broker import dynsec
from core.config import Settings
from simulators import labels
from simulators.behaviour.schedule import Simulation
from simulators.community import Community
from simulators.seed import seed_community
from simulators.transport import Account

LABELS_DIR = Path(".local/labels")


def accounts(settings: Settings, communities: Sequence[Community]) -> list[Account]:
    """Seed the communities and give every device a fresh password to log in with.

    Passwords are never stored, so a simulator sets new ones each time it starts.
    """
    out: list[Account] = []
    with (
        psycopg.connect(settings.database_url, autocommit=True) as conn,
        dynsec.connect(settings.require_mqtt_admin()) as broker,
    ):
        for c in communities:
            result = seed_community(conn, broker, c, reset_passwords=True)
            out += [Account(i, kind, c.id, result.passwords[i]) for i, kind in result.devices.items()]
    return out


def run_id(communities: Sequence[Community], seed: int, start: datetime) -> str:
    """A name for a run's labels: its communities, seed and start."""
    names = communities[0].id if len(communities) == 1 else f"{len(communities)}-communities"
    return f"{names}-s{seed}-{start:%Y%m%dT%H%MZ}"


def save_labels(
    settings: Settings, sim: Simulation, until: datetime, name: str, path: Path | None, table: bool
) -> tuple[Path, int]:
    """Write the run's ground truth up to `until` to a CSV file (and the labels table if asked)."""
    found = sim.labels_until(until)
    path = path or LABELS_DIR / f"{name}.csv"
    labels.write_csv(path, found)
    if table:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            labels.store(conn, name, found)
    return path, len(found)
