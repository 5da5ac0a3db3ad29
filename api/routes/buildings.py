"""Buildings of communities: create, list, get, update, decommission."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.deps import ConnDep, RegistryReader, RegistryWriter
from api.errors import ERROR_RESPONSES
from api.models import Building, BuildingIn, BuildingPatch, Page, PathId, QueryId
from api.pagination import Cursor, Limit
from api.routing import StrictQueryRoute
from api.service import registry

router = APIRouter(
    route_class=StrictQueryRoute, prefix="/v1/buildings", tags=["buildings"], responses=ERROR_RESPONSES
)


@router.post("", response_model=Building, status_code=status.HTTP_201_CREATED)
def create(body: BuildingIn, conn: ConnDep, who: RegistryWriter) -> dict[str, Any]:
    """Register a building in one of the caller's communities."""
    return registry.create_building(conn, who, **body.model_dump())


@router.get("", response_model=Page[Building])
def list_(
    conn: ConnDep,
    who: RegistryReader,
    community_id: QueryId = None,
    include_decommissioned: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The caller's buildings by id."""
    items, next_cursor = registry.list_buildings(
        conn,
        who,
        community_id=community_id,
        include_decommissioned=include_decommissioned,
        limit=limit,
        cursor=cursor,
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{building_id}", response_model=Building)
def get(building_id: PathId, conn: ConnDep, who: RegistryReader) -> dict[str, Any]:
    """One building."""
    return registry.get_building(conn, who, id=building_id)


@router.patch("/{building_id}", response_model=Building)
def update(building_id: PathId, body: BuildingPatch, conn: ConnDep, who: RegistryWriter) -> dict[str, Any]:
    """Change the fields sent."""
    return registry.update_building(conn, who, id=building_id, changes=body.changes())


@router.delete("/{building_id}", response_model=Building)
def decommission(building_id: PathId, conn: ConnDep, who: RegistryWriter) -> dict[str, Any]:
    """Decommission a building without active devices."""
    return registry.decommission_building(conn, who, id=building_id)
