"""What `yiju simulate` does, below its options: accounts, runs, labels."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path

import psycopg

from core.broker import dynsec
from core.config import Settings
from simulators import labels
from simulators.behaviour.schedule import Simulation
from simulators.community import Community
from simulators.seed import SeedResult, derived_password, seed_community
from simulators.transport import Account, Connections

LABELS_DIR = Path(".local/labels")


@contextmanager
def _admin(settings: Settings) -> Iterator[tuple[psycopg.Connection, dynsec.DynSec]]:
    with (
        psycopg.connect(settings.database_url, autocommit=True) as conn,
        # each change makes Mosquitto's dynamic security rewrite its file: slow with 10,000 accounts
        dynsec.connect(settings.require_mqtt_admin(), timeout_s=600) as broker,
    ):
        yield conn, broker


def seed(settings: Settings, communities: Sequence[Community]) -> list[SeedResult]:
    """Register the communities and their devices' accounts (idempotent).

    Simulated devices' passwords are derived from the broker admin secret, so a simulator can log
    in again without resetting them.
    """
    with _admin(settings) as (conn, broker):
        return [seed_community(conn, broker, c, password=_password(settings)) for c in communities]


def _password(settings: Settings) -> Callable[[str], str]:
    return partial(derived_password, settings.require_mqtt_admin().password or "")


def connect(
    settings: Settings, communities: Sequence[Community], links: Connections, say: Callable[[str], None]
) -> None:
    """Seed the communities and open every device's connection, resetting the passwords the broker
    refuses (accounts made by an older seeding)."""
    password = _password(settings)
    # The admin session opens first: paho's own loop uses select(), which cannot watch a socket
    # numbered above 1024, and thousands of device sockets would push its number past that.
    with _admin(settings) as (conn, broker):
        results = [seed_community(conn, broker, c, password=password) for c in communities]
        found = [
            Account(i, kind, r.community_id, password(i)) for r in results for i, kind in r.devices.items()
        ]
        refused = links.open(found, progress=lambda n: say(f"connecting: {n} of {len(found)} devices"))
        if refused:
            say(f"{len(refused)} devices have older passwords: resetting them")
            for c in communities:
                seed_community(conn, broker, c, password=password, reset=set(refused))
            if still := links.retry(refused):
                raise ConnectionError(f"the broker refuses {len(still)} devices, e.g. {still[:3]}")
    say(f"{len(found)} devices connected")


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
