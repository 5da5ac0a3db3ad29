"""Register a community definition in the registry and give its devices broker accounts.

The one part of the simulators that reaches past the contract: it plays the operator who
provisions the devices, through the same registry service as `yiju devices add`. Seeding is
idempotent: what exists is left alone, so a second run adds nothing and changes no password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import psycopg

from core.broker.dynsec import DynSec, new_password
from core.contract.topics import Kind, device_topic_filter
from core.registry import service as registry
from simulators.community import Community


@dataclass
class SeedResult:
    """What one seeding added, and the passwords of the accounts it created (shown to nobody)."""

    community_id: str
    devices: dict[str, Kind]
    added: Counter[str] = field(default_factory=Counter)
    passwords: dict[str, str] = field(default_factory=dict)


def seed_community(
    conn: psycopg.Connection,
    broker: DynSec | None,
    community: Community,
    *,
    password: Callable[[str], str] | None = None,
    reset: Collection[str] = (),
) -> SeedResult:
    """Add what is missing of `community`; give devices without an account (and those in `reset`)
    one, with `password(device_id)` (default: a new random password)."""
    devices = community.devices()
    result = SeedResult(community.id, {d[0]: d[1] for d in devices})
    with conn.transaction():
        _write_registry(conn, community, devices, result.added)
    if broker is None:
        return result
    ids = list(result.devices)
    existing = broker.existing_clients(ids)
    missing = [i for i in ids if i not in existing]
    make = password or (lambda _: new_password())
    result.passwords = {i: make(i) for i in [*missing, *(i for i in ids if i in existing and i in reset)]}
    broker.ensure_devices(
        [(i, device_topic_filter(community.id, result.devices[i], i), result.passwords[i]) for i in missing]
    )
    broker.set_passwords([(i, result.passwords[i]) for i in ids if i in existing and i in reset])
    result.added.update(
        {"broker accounts": len(missing), "passwords reset": len(result.passwords) - len(missing)}
    )
    result.added = +result.added  # only what was done
    return result


# Where a community's spaces lie, in metres from its centre (east, north): its own yard, the
# neighbouring institution's car park (错时) and the street outside for night parking.
_AREAS = {
    "resident": (0.0, 0.0),
    "public": (0.0, -60.0),
    "institutional": (280.0, 120.0),
    "street": (-40.0, -220.0),
}
_METRES_PER_DEGREE = 111_000.0


def space_position(lat: float, lon: float, space_type: str, index: int) -> tuple[float, float]:
    """A space's place on the map: rows of ten, 3 m apart and 6 m between rows, in its area."""
    east, north = _AREAS.get(space_type, (0.0, 0.0))
    east += (index % 10) * 3.0
    north += ((index // 10) % 12) * 6.0
    return (
        lat + north / _METRES_PER_DEGREE,
        lon + east / (_METRES_PER_DEGREE * math.cos(math.radians(lat))),
    )


def derived_password(secret: str, device_id: str) -> str:
    """A simulated device's password, derived from a secret so that a simulator can log in again
    without resetting thousands of accounts (Mosquitto's dynamic security takes minutes for that).
    Whoever holds the broker admin secret could set any password anyway."""
    digest = hmac.new(secret.encode(), f"yiju-sim/{device_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def _write_registry(
    conn: psycopg.Connection,
    community: Community,
    devices: list[tuple[str, Kind, str | None, str]],
    added: Counter[str],
) -> None:
    c, full = community, community.full_id
    if not registry.community_exists(conn, c.id):
        registry.add_community(
            conn, id=c.id, name=c.name, district=c.district, lat=c.lat, lon=c.lon,
            site_power_limit_kw=c.site_power_limit_kw,
        )  # fmt: skip
        added["communities"] += 1
    known = registry.community_ids(conn, c.id)
    for b in c.buildings:
        if full(b.id) not in known["buildings"]:
            registry.add_building(
                conn, id=full(b.id), community_id=c.id, name=b.name, floors=b.floors, households=b.households
            )
            added["buildings"] += 1
    registered = registry.lookup(conn, [d[0] for d in devices])
    for device_id, kind, building_id, location in devices:
        if device_id in registered:
            if registered[device_id].community_id != c.id:
                raise registry.RegistryError(f"device {device_id!r} belongs to another community")
            continue
        registry.add_device(
            conn, None, id=device_id, community_id=c.id, kind=kind, building_id=building_id, location=location
        )
        added["devices"] += 1
    for i, s in enumerate(c.spaces):
        if full(s.id) not in known["parking_spaces"]:
            lat, lon = space_position(c.lat, c.lon, s.space_type, i)
            registry.add_parking_space(
                conn, id=full(s.id), community_id=c.id, label=s.label, space_type=s.space_type,
                sensor_device_id=full(s.id), has_charger=s.has_charger, accessible=s.accessible,
                covered=s.covered, availability=[w.model_dump() for w in s.availability], lat=lat, lon=lon,
            )  # fmt: skip
            added["parking spaces"] += 1
    for ch in c.chargers:
        if full(ch.id) not in known["chargers"]:
            registry.add_charger(
                conn, device_id=full(ch.id), space_id=full(ch.space), shared_by=ch.shared_by,
                max_power_kw=ch.max_kw,
            )  # fmt: skip
            added["chargers"] += 1
