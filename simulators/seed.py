"""Register a simulated community in the registry and give each device a fresh broker account.

The one part of the simulators that reaches past the contract: it plays the operator who
provisions the devices, through the same registry service as `yiju devices add`.
"""

from __future__ import annotations

import psycopg

from core.broker.dynsec import DynSec, new_password
from core.contract.topics import Kind, device_topic_filter
from core.registry import service as registry
from simulators.live import LiveDevice


def seed_community(
    conn: psycopg.Connection,
    broker: DynSec,
    *,
    community: dict[str, str | float],
    devices: dict[Kind, int],
) -> list[LiveDevice]:
    """Create what is missing; every device gets a new password (shown to nobody, kept in memory)."""
    community_id = str(community["id"])
    known = registry.lookup(conn)
    if not registry.community_exists(conn, community_id):
        registry.add_community(
            conn,
            id=community_id,
            name=str(community["name"]),
            district=str(community["district"]),
            lat=float(community["lat"]),
            lon=float(community["lon"]),
        )
    made = []
    for kind, count in devices.items():
        for n in range(1, count + 1):
            device_id = f"{community_id}-{kind.value.replace('_', '-')}-{n:03d}"
            if device_id not in known:
                registry.add_device(conn, None, id=device_id, community_id=community_id, kind=kind)
            password = new_password()
            broker.ensure_device(device_id, device_topic_filter(community_id, kind, device_id), password)
            made.append(LiveDevice(device_id, kind, community_id, password))
    return made
