"""Devices and their broker accounts: provision, list, get, update, rotate, revoke, decommission."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.deps import BrokerDep, ConnDep, DeviceWriter, RegistryReader
from api.errors import ERROR_RESPONSES, ErrorBody
from api.models import Credentials, Device, DeviceCreated, DeviceIn, DevicePatch, Page, PathId, QueryId
from api.pagination import Cursor, Limit
from api.routing import StrictQueryRoute
from api.service import devices
from core.contract.topics import Kind

router = APIRouter(
    route_class=StrictQueryRoute,
    prefix="/v1/devices",
    tags=["devices"],
    responses={**ERROR_RESPONSES, 503: {"model": ErrorBody, "description": "Broker not reachable"}},
)


@router.post("", response_model=DeviceCreated, status_code=status.HTTP_201_CREATED)
def create(body: DeviceIn, conn: ConnDep, broker: BrokerDep, who: DeviceWriter) -> dict[str, Any]:
    """Register a device and create its MQTT account and ACL; the password is shown once."""
    return devices.create_device(conn, broker, who, **body.model_dump())


@router.get("", response_model=Page[Device])
def list_(
    conn: ConnDep,
    who: RegistryReader,
    community_id: QueryId = None,
    kind: Kind | None = None,
    include_decommissioned: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The caller's devices by id."""
    items, next_cursor = devices.list_devices(
        conn,
        who,
        community_id=community_id,
        kind=kind,
        include_decommissioned=include_decommissioned,
        limit=limit,
        cursor=cursor,
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{device_id}", response_model=Device)
def get(device_id: PathId, conn: ConnDep, who: RegistryReader) -> dict[str, Any]:
    """One device."""
    return devices.get_device(conn, who, id=device_id)


@router.patch("/{device_id}", response_model=Device)
def update(device_id: PathId, body: DevicePatch, conn: ConnDep, who: DeviceWriter) -> dict[str, Any]:
    """Change the fields sent (building, location)."""
    return devices.update_device(conn, who, id=device_id, changes=body.changes())


@router.delete("/{device_id}", response_model=Device)
def decommission(device_id: PathId, conn: ConnDep, broker: BrokerDep, who: DeviceWriter) -> dict[str, Any]:
    """Decommission: ingest stops accepting its data and its broker account is deleted."""
    return devices.decommission_device(conn, broker, who, id=device_id)


@router.post("/{device_id}/credentials", response_model=Credentials)
def rotate(device_id: PathId, conn: ConnDep, broker: BrokerDep, who: DeviceWriter) -> dict[str, Any]:
    """New MQTT password (shown once); the old one stops working and a connected client is dropped."""
    return devices.rotate_credentials(conn, broker, who, id=device_id)


@router.delete("/{device_id}/credentials", response_model=Device)
def revoke(device_id: PathId, conn: ConnDep, broker: BrokerDep, who: DeviceWriter) -> dict[str, Any]:
    """Delete the MQTT account (the device is disconnected); POST credentials issues a new one."""
    return devices.revoke_credentials(conn, broker, who, id=device_id)
