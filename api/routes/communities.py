"""Communities on the city map: create, list, get, update, decommission."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.deps import ConnDep, RegistryReader, RegistryWriter
from api.errors import ERROR_RESPONSES
from api.models import Community, CommunityIn, CommunityPatch, Page, PathId, QueryText
from api.pagination import Cursor, Limit
from api.routing import StrictQueryRoute
from api.service import registry

router = APIRouter(
    route_class=StrictQueryRoute, prefix="/v1/communities", tags=["communities"], responses=ERROR_RESPONSES
)


@router.post("", response_model=Community, status_code=status.HTTP_201_CREATED)
def create(body: CommunityIn, conn: ConnDep, who: RegistryWriter) -> dict[str, Any]:
    """Register a community (an operator's belongs to its own company)."""
    return registry.create_community(conn, who, **body.model_dump())


@router.get("", response_model=Page[Community])
def list_(
    conn: ConnDep,
    who: RegistryReader,
    district: QueryText = None,
    include_decommissioned: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The caller's communities by id, optionally in one district (县市区)."""
    items, next_cursor = registry.list_communities(
        conn,
        who,
        district=district,
        include_decommissioned=include_decommissioned,
        limit=limit,
        cursor=cursor,
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{community_id}", response_model=Community)
def get(community_id: PathId, conn: ConnDep, who: RegistryReader) -> dict[str, Any]:
    """One community."""
    return registry.get_community(conn, who, id=community_id)


@router.patch("/{community_id}", response_model=Community)
def update(community_id: PathId, body: CommunityPatch, conn: ConnDep, who: RegistryWriter) -> dict[str, Any]:
    """Change the fields sent."""
    return registry.update_community(conn, who, id=community_id, changes=body.changes())


@router.delete("/{community_id}", response_model=Community)
def decommission(community_id: PathId, conn: ConnDep, who: RegistryWriter) -> dict[str, Any]:
    """Decommission a community whose devices are all decommissioned (the record stays)."""
    return registry.decommission_community(conn, who, id=community_id)
