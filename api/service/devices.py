"""Devices with their broker accounts: provisioning, rotation, revocation, decommissioning."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from api.errors import Conflict, Invalid, Unavailable
from api.queries import DEVICES
from api.security import Principal
from api.service.access import audit
from api.service.registry import get_building, get_community
from api.service.rows import Page, assignments, id_page, visible_row
from core.broker.dynsec import BrokerAdminError, DynSec
from core.contract.topics import Kind, device_topic_filter
from core.registry import service as registry
from core.registry.models import DeviceRef


def get_device(conn: psycopg.Connection, who: Principal, *, id: str, active: bool = False) -> dict[str, Any]:
    """A device of one of the caller's communities; NotFound for any other."""
    return visible_row(conn, DEVICES.get, who, what="device", id=id, active=active)


def list_devices(
    conn: psycopg.Connection,
    who: Principal,
    *,
    community_id: str | None,
    kind: Kind | None,
    include_decommissioned: bool,
    limit: int,
    cursor: str | None,
) -> Page:
    """The caller's devices by id."""
    filters = {"community": community_id, "kind": kind.value if kind else None}
    return id_page(conn, DEVICES.page, who, filters, include_decommissioned=include_decommissioned,
                   limit=limit, cursor=cursor)  # fmt: skip


def _broker(broker: DynSec | None) -> DynSec:
    if broker is None:
        raise Unavailable("device provisioning needs YIJU_MQTT_ADMIN_URL (the broker admin account)")
    return broker


def _credentials(device: dict[str, Any], password: str) -> dict[str, Any]:
    topic_filter = device_topic_filter(device["community_id"], device["kind"], device["id"])
    return {"username": device["id"], "password": password, "topic_filter": topic_filter}


def _check_building(conn: psycopg.Connection, who: Principal, building_id: str, community_id: str) -> None:
    building = get_building(conn, who, id=building_id, active=True)
    if building["community_id"] != community_id:
        raise Invalid(f"building {building_id!r} is not in community {community_id!r}")


def create_device(
    conn: psycopg.Connection,
    broker: DynSec | None,
    who: Principal,
    *,
    id: str,
    community_id: str,
    kind: Kind,
    building_id: str | None,
    location: str,
) -> dict[str, Any]:
    """Register a device and create its broker account; the password is in the result, once."""
    admin = _broker(broker)
    get_community(conn, who, id=community_id, active=True)
    if building_id is not None:
        _check_building(conn, who, building_id, community_id)
    with conn.transaction():
        try:
            creds = registry.add_device(
                conn,
                admin,
                id=id,
                community_id=community_id,
                kind=kind,
                building_id=building_id,
                location=location,
            )
        except registry.RegistryError as error:
            raise Conflict(str(error)) from None
        except BrokerAdminError as error:
            raise Unavailable(f"the broker refused the account: {error}") from None
        conn.execute(DEVICES.credentials_changed, (id,))
        audit(conn, who, "device.create", f"device:{id}", community_id=community_id, kind=kind.value)
    assert creds is not None
    device = get_device(conn, who, id=id)
    return {**device, "credentials": _credentials(device, creds.password)}


def update_device(
    conn: psycopg.Connection, who: Principal, *, id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Move a device to another building of its community, or change its location text."""
    device = get_device(conn, who, id=id, active=True)
    if changes.get("building_id") is not None:
        _check_building(conn, who, changes["building_id"], device["community_id"])
    if changes:
        with conn.transaction():
            conn.execute(
                sql.SQL(DEVICES.update).format(assignments=assignments(changes)), {**changes, "id": id}
            )
            audit(conn, who, "device.update", f"device:{id}", **changes)
    return get_device(conn, who, id=id)


def _ref(device: dict[str, Any]) -> DeviceRef:
    return DeviceRef(device["id"], device["community_id"], Kind(device["kind"]), False)


def rotate_credentials(
    conn: psycopg.Connection, broker: DynSec | None, who: Principal, *, id: str
) -> dict[str, Any]:
    """A new broker password (also restores a revoked account); the old one stops working at once."""
    admin = _broker(broker)
    device = get_device(conn, who, id=id, active=True)
    with conn.transaction():
        conn.execute(DEVICES.credentials_changed, (id,))
        audit(conn, who, "device.credentials.rotate", f"device:{id}")
        try:
            creds = registry.reset_credentials(admin, _ref(device))
        except BrokerAdminError as error:
            raise Unavailable(f"the broker refused the new password: {error}") from None
    return _credentials(device, creds.password)


def revoke_credentials(
    conn: psycopg.Connection, broker: DynSec | None, who: Principal, *, id: str
) -> dict[str, Any]:
    """Delete the device's broker account (it is disconnected); the device stays registered."""
    admin = _broker(broker)
    get_device(conn, who, id=id, active=True)
    with conn.transaction():
        conn.execute(DEVICES.credentials_revoked, (id,))
        audit(conn, who, "device.credentials.revoke", f"device:{id}")
        try:
            admin.remove_device(id)
        except BrokerAdminError as error:
            raise Unavailable(f"the broker did not remove the account: {error}") from None
    return get_device(conn, who, id=id)


def decommission_device(
    conn: psycopg.Connection, broker: DynSec | None, who: Principal, *, id: str
) -> dict[str, Any]:
    """Stop accepting the device's data and delete its broker account."""
    admin = _broker(broker)
    get_device(conn, who, id=id, active=True)
    with conn.transaction():
        try:
            registry.decommission_device(conn, admin, id=id)
        except registry.RegistryError as error:
            raise Conflict(str(error)) from None
        except BrokerAdminError as error:
            raise Unavailable(f"the broker did not remove the account: {error}") from None
        audit(conn, who, "device.decommission", f"device:{id}")
    return get_device(conn, who, id=id)
