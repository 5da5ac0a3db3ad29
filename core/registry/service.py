"""Registering communities and devices; a device gets its broker account in the same step."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from core.broker.dynsec import DynSec, new_password
from core.contract.topics import Kind, device_topic_filter, is_valid_id
from core.registry.models import Credentials, DeviceRef
from core.registry.queries import REGISTRY


class RegistryError(ValueError):
    """A registration that cannot be made; the message says why."""


def _check_id(what: str, value: str) -> None:
    if not is_valid_id(value):
        raise RegistryError(f"{what} id {value!r} must match [a-z0-9][a-z0-9-]{{1,63}}")


def add_community(
    conn: psycopg.Connection, *, id: str, name: str, district: str, lat: float, lon: float
) -> None:
    """Register a community on the city map."""
    _check_id("community", id)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise RegistryError("lat must be within [-90, 90] and lon within [-180, 180]")
    try:
        conn.execute(REGISTRY.add_community, (id, name, district, lat, lon))
    except psycopg.errors.UniqueViolation:
        raise RegistryError(f"community {id!r} already exists") from None


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
