"""Registering communities and devices; a device gets its broker account in the same step."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import psycopg
from psycopg.types.json import Jsonb

from core.broker.dynsec import DynSec, new_password
from core.contract.topics import Kind, device_topic_filter, is_valid_id
from core.registry.models import Credentials, DeviceRef
from core.registry.queries import REGISTRY

SPACE_TYPES = ("resident", "public", "institutional", "street")


class RegistryError(ValueError):
    """A registration that cannot be made; the message says why."""


def _check_id(what: str, value: str) -> None:
    if not is_valid_id(value):
        raise RegistryError(f"{what} id {value!r} must match [a-z0-9][a-z0-9-]{{1,63}}")


def add_community(
    conn: psycopg.Connection,
    *,
    id: str,
    name: str,
    district: str,
    lat: float,
    lon: float,
    site_power_limit_kw: float | None = None,
) -> None:
    """Register a community on the city map."""
    _check_id("community", id)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise RegistryError("lat must be within [-90, 90] and lon within [-180, 180]")
    if site_power_limit_kw is not None and site_power_limit_kw <= 0:
        raise RegistryError("site_power_limit_kw must be positive")
    try:
        conn.execute(REGISTRY.add_community, (id, name, district, lat, lon, site_power_limit_kw))
    except psycopg.errors.UniqueViolation:
        raise RegistryError(f"community {id!r} already exists") from None


def add_building(
    conn: psycopg.Connection, *, id: str, community_id: str, name: str, floors: int, households: int
) -> None:
    """Register a building of a community."""
    _check_id("building", id)
    if not (1 <= floors <= 200 and households >= 0):
        raise RegistryError("floors must be within [1, 200] and households not negative")
    try:
        conn.execute(REGISTRY.add_building, (id, community_id, name, floors, households))
    except psycopg.errors.UniqueViolation:
        raise RegistryError(f"building {id!r} already exists") from None
    except psycopg.errors.ForeignKeyViolation:
        raise RegistryError(f"community {community_id!r} does not exist") from None


def add_parking_space(
    conn: psycopg.Connection,
    *,
    id: str,
    community_id: str,
    label: str,
    space_type: str,
    sensor_device_id: str | None = None,
    has_charger: bool = False,
    accessible: bool = False,
    covered: bool = False,
    availability: Sequence[Mapping[str, str]] = (),
    lat: float | None = None,
    lon: float | None = None,
) -> None:
    """Register a parking space, linked to its occupancy sensor when it has one."""
    _check_id("parking space", id)
    if space_type not in SPACE_TYPES:
        raise RegistryError(f"unknown space_type {space_type!r}; one of {', '.join(SPACE_TYPES)}")
    row = (id, community_id, label, space_type, sensor_device_id, has_charger, accessible, covered)
    try:
        conn.execute(REGISTRY.add_parking_space, (*row, Jsonb(list(map(dict, availability))), lat, lon))
    except psycopg.errors.UniqueViolation:
        raise RegistryError(f"parking space {id!r} or its sensor is already registered") from None
    except psycopg.errors.ForeignKeyViolation:
        raise RegistryError(
            f"community {community_id!r} or device {sensor_device_id!r} does not exist"
        ) from None


def add_charger(
    conn: psycopg.Connection, *, device_id: str, space_id: str | None, shared_by: int, max_power_kw: float
) -> None:
    """Record which space a registered charger serves and how many cars share it (多车一桩)."""
    if shared_by < 1 or max_power_kw <= 0:
        raise RegistryError("shared_by must be at least 1 and max_power_kw positive")
    try:
        conn.execute(REGISTRY.add_charger, (device_id, space_id, shared_by, max_power_kw))
    except psycopg.errors.UniqueViolation:
        raise RegistryError(f"charger {device_id!r} already recorded") from None
    except psycopg.errors.ForeignKeyViolation:
        raise RegistryError(f"device {device_id!r} or space {space_id!r} does not exist") from None


def community_ids(conn: psycopg.Connection, community_id: str) -> dict[str, set[str]]:
    """Ids already registered in a community: buildings, parking spaces, chargers."""
    return {
        what: {r[0] for r in conn.execute(query, (community_id,)).fetchall()}
        for what, query in (
            ("buildings", REGISTRY.building_ids),
            ("parking_spaces", REGISTRY.parking_space_ids),
            ("chargers", REGISTRY.charger_ids),
        )
    }


def community_exists(conn: psycopg.Connection, id: str) -> bool:
    """Whether a community is registered."""
    return conn.execute(REGISTRY.community_exists, (id,)).fetchone() is not None


def add_device(
    conn: psycopg.Connection,
    broker: DynSec | None,
    *,
    id: str,
    community_id: str,
    kind: Kind | str,
    building_id: str | None = None,
    location: str = "",
) -> Credentials | None:
    """Register a device and create its broker account (when a broker session is given).

    The row and the account are made together: the row's transaction commits only after the
    broker accepted the account, so a failure leaves neither.
    """
    _check_id("device", id)
    try:
        kind = Kind(kind)
    except ValueError:
        raise RegistryError(f"unknown kind {kind!r}; one of {', '.join(Kind)}") from None
    with conn.transaction():
        if not community_exists(conn, community_id):
            raise RegistryError(f"community {community_id!r} does not exist")
        try:
            conn.execute(REGISTRY.add_device, (id, community_id, kind.value, building_id, location, id))
        except psycopg.errors.UniqueViolation:
            raise RegistryError(f"device {id!r} already exists") from None
        if broker is None:
            return None
        password = new_password()
        broker.ensure_device(id, device_topic_filter(community_id, kind, id), password)
    return Credentials(id, password)


def reset_credentials(broker: DynSec, device: DeviceRef) -> Credentials:
    """Give a device a new broker password: the old one stops working, a connected client is dropped."""
    password = new_password()
    broker.ensure_device(
        device.id, device_topic_filter(device.community_id, device.kind, device.id), password
    )
    return Credentials(device.id, password)


def lookup(conn: psycopg.Connection, ids: Iterable[str] | None = None) -> dict[str, DeviceRef]:
    """Devices by id (all of them when `ids` is None)."""
    if ids is None:
        rows = conn.execute(REGISTRY.all_devices).fetchall()
    else:
        rows = conn.execute(REGISTRY.devices_by_id, (list(ids),)).fetchall()
    return {r[0]: DeviceRef(r[0], r[1], Kind(r[2]), r[3]) for r in rows}


def decommission_device(conn: psycopg.Connection, broker: DynSec | None, *, id: str) -> None:
    """Stop accepting a device's messages and remove its broker account."""
    with conn.transaction():
        if conn.execute(REGISTRY.decommission, (id,)).fetchone() is None:
            raise RegistryError(f"device {id!r} does not exist or is already decommissioned")
        if broker is not None:
            broker.remove_device(id)
