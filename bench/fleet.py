"""A throwaway community for one benchmark run, removed with everything it left behind.

Devices are registered through the real registry (each gets its own broker account); the
publisher processes use one temporary account allowed to publish under the community only,
since a connection per device would be too many for a publisher process.
"""

from __future__ import annotations

import logging
import secrets
import socket
import time
from collections.abc import Iterable
from types import TracebackType

import psycopg

from bench import store
from core.broker import dynsec
from core.broker.client import host_port, purge_sessions
from core.config import Settings
from core.contract.topics import ROOT, Kind
from core.db.pool import wait_for_database
from core.registry import service as registry

logger = logging.getLogger(__name__)

_SHORT = {
    Kind.EV_CHARGER: "ev",
    Kind.PARKING_SPACE: "space",
    Kind.PARKING_GATE: "gate",
    Kind.PARCEL_LOCKER: "locker",
    Kind.ELEVATOR: "lift",
}


def wait_for_broker(settings: Settings) -> None:
    """Block until the broker accepts connections (it may be restarting), as long as for the database."""
    host, port = host_port(settings.require_mqtt())
    deadline = time.monotonic() + settings.db_connect_timeout_s
    while True:
        try:
            socket.create_connection((host, port), timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            logger.warning("broker at %s:%d unreachable; waiting", host, port)
            time.sleep(1)


def plan_devices(community_id: str, count: int) -> list[tuple[str, Kind]]:
    """Device ids and kinds of a bench community: the five kinds in turn."""
    kinds = list(Kind)
    planned = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        planned.append((f"{community_id}-{_SHORT[kind]}-{n:03d}", kind))
    return planned


def remove_run(settings: Settings, community_id: str, sessions: Iterable[str] = ()) -> None:
    """Remove a run's sessions, broker accounts, then rows, rejects and registry entries.

    Fresh connections, after waiting for both services: a run may end because one restarted.
    The community row goes last, so a failure leaves it for `yiju bench clean`.
    """
    wait_for_broker(settings)
    purge_sessions(settings.require_mqtt(), sessions)
    wait_for_database(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        device_ids = store.device_ids(conn, community_id=community_id)
        publisher = f"{community_id}-publisher"
        with dynsec.connect(settings.require_mqtt_admin()) as broker:
            broker.run(
                [
                    {"command": "deleteClient", "username": publisher},
                    {"command": "deleteRole", "rolename": publisher},
                ],
                tolerate=("not found",),
            )
            broker.remove_devices(device_ids)
        store.delete_run(conn, community_id=community_id, device_ids=device_ids)
    logger.info("removed community %s, %d devices and their accounts", community_id, len(device_ids))


def remove_leftovers(settings: Settings, max_workers: int = 8) -> list[str]:
    """Remove every bench community an interrupted run left behind (and its likely sessions)."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        communities = store.bench_communities(conn)
    tags = ["raw", "naive"] + [
        f"{t}{n}-{i}" for t in ("w", "lat") for n in range(1, max_workers + 1) for i in range(n)
    ]
    for community_id in communities:
        remove_run(settings, community_id, [f"{community_id}-{tag}" for tag in tags])
    return communities


class BenchFleet:
    """A community with devices of every kind and a publisher account, removed again on exit."""

    def __init__(self, settings: Settings, run_id: str, *, devices: int) -> None:
        self.settings = settings
        self.run_id = run_id
        self.community_id = f"bench-{run_id}"
        self.publisher = (f"{self.community_id}-publisher", secrets.token_urlsafe(24))
        self.devices = plan_devices(self.community_id, devices)
        self.sessions: list[str] = []  # client ids of persistent sessions to remove at the end
        self.conn = psycopg.connect(settings.database_url, autocommit=True)

    def client_id(self, tag: str) -> str:
        """A client id (and share group) of this run; clean-up finds sessions by this pattern."""
        return f"{self.community_id}-{tag}"

    @property
    def device_ids(self) -> list[str]:
        return [device_id for device_id, _ in self.devices]

    def __enter__(self) -> BenchFleet:
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def _create(self) -> None:
        registry.add_community(
            self.conn, id=self.community_id, name="基准测试小区", district="bench", lat=30.7, lon=111.3
        )
        with dynsec.connect(self.settings.require_mqtt_admin()) as broker:
            for device_id, kind in self.devices:
                registry.add_device(
                    self.conn, broker, id=device_id, community_id=self.community_id, kind=kind
                )
            username, password = self.publisher
            topic = f"{ROOT}/{self.community_id}/#"
            acls = [{"acltype": "publishClientSend", "topic": topic, "allow": True}]
            broker.ensure_service_account(username, password, username, acls)
        logger.info(
            "community %s: %d devices, publisher account %s", self.community_id, len(self.devices), username
        )

    def close(self) -> None:
        self.conn.close()
        remove_run(self.settings, self.community_id, self.sessions)
