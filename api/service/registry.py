"""Communities and buildings, as the caller's company may see and change them."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from api.errors import Conflict, Forbidden, NotFound
from api.queries import BUILDINGS, COMMUNITIES, COMPANIES
from api.security import Principal, Role
from api.service.access import audit
from api.service.rows import Page, assignments, id_page, visible_row
from core.registry import service as registry


def get_community(
    conn: psycopg.Connection, who: Principal, *, id: str, active: bool = False
) -> dict[str, Any]:
    """A community the caller may see; NotFound for any other (another company's included)."""
    return visible_row(conn, COMMUNITIES.get, who, what="community", id=id, active=active)


def list_communities(
    conn: psycopg.Connection,
    who: Principal,
    *,
    district: str | None,
    include_decommissioned: bool,
    limit: int,
    cursor: str | None,
) -> Page:
    """The caller's communities by id."""
    filters = {"district": district}
    return id_page(conn, COMMUNITIES.page, who, filters, include_decommissioned=include_decommissioned,
                   limit=limit, cursor=cursor)  # fmt: skip


def _owner(conn: psycopg.Connection, who: Principal, company_id: str | None) -> str | None:
    if who.role is not Role.ADMIN:
        if company_id not in (None, who.company_id):
            raise Forbidden("only a platform admin may hand a community to a company")
        return who.company_id
    if company_id is not None and conn.execute(COMPANIES.exists, (company_id,)).fetchone() is None:
        raise NotFound(f"company {company_id!r} not found")
    return company_id


def create_community(conn: psycopg.Connection, who: Principal, **fields: Any) -> dict[str, Any]:
    """Register a community; an operator's belongs to its company."""
    owner = _owner(conn, who, fields.pop("company_id", None))
    with conn.transaction():
        try:
            registry.add_community(conn, **fields)
        except registry.RegistryError as error:
            raise Conflict(str(error)) from None
        conn.execute(COMMUNITIES.set_company, (owner, fields["id"]))
        audit(conn, who, "community.create", f"community:{fields['id']}", **fields, company_id=owner)
    return get_community(conn, who, id=fields["id"])


def update_community(
    conn: psycopg.Connection, who: Principal, *, id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a community's details (and, for an admin, its company)."""
    get_community(conn, who, id=id, active=True)
    if "company_id" in changes:
        if who.role is not Role.ADMIN:
            raise Forbidden("only a platform admin may hand a community to a company")
        _owner(conn, who, changes["company_id"])
    if changes:
        with conn.transaction():
            query = sql.SQL(COMMUNITIES.update).format(assignments=assignments(changes))
            conn.execute(query, {**changes, "id": id})
            audit(conn, who, "community.update", f"community:{id}", **changes)
    return get_community(conn, who, id=id)


def decommission_community(conn: psycopg.Connection, who: Principal, *, id: str) -> dict[str, Any]:
    """Retire a community once none of its devices is active."""
    get_community(conn, who, id=id, active=True)
    with conn.transaction():
        row = conn.execute(COMMUNITIES.active_devices, (id,)).fetchone()
        if row and row[0]:
            raise Conflict(f"community {id!r} still has {row[0]} active devices; decommission them first")
        conn.execute(COMMUNITIES.decommission, (id,))
        audit(conn, who, "community.decommission", f"community:{id}")
    return get_community(conn, who, id=id)


def get_building(
    conn: psycopg.Connection, who: Principal, *, id: str, active: bool = False
) -> dict[str, Any]:
    """A building of one of the caller's communities."""
    return visible_row(conn, BUILDINGS.get, who, what="building", id=id, active=active)


def list_buildings(
    conn: psycopg.Connection,
    who: Principal,
    *,
    community_id: str | None,
    include_decommissioned: bool,
    limit: int,
    cursor: str | None,
) -> Page:
    """The caller's buildings by id."""
    filters = {"community": community_id}
    return id_page(conn, BUILDINGS.page, who, filters, include_decommissioned=include_decommissioned,
                   limit=limit, cursor=cursor)  # fmt: skip


def create_building(conn: psycopg.Connection, who: Principal, **fields: Any) -> dict[str, Any]:
    """Register a building in one of the caller's active communities."""
    get_community(conn, who, id=fields["community_id"], active=True)
    with conn.transaction():
        try:
            registry.add_building(conn, **fields)
        except registry.RegistryError as error:
            raise Conflict(str(error)) from None
        audit(conn, who, "building.create", f"building:{fields['id']}", **fields)
    return get_building(conn, who, id=fields["id"])


def update_building(
    conn: psycopg.Connection, who: Principal, *, id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a building's details."""
    get_building(conn, who, id=id, active=True)
    if changes:
        with conn.transaction():
            conn.execute(
                sql.SQL(BUILDINGS.update).format(assignments=assignments(changes)), {**changes, "id": id}
            )
            audit(conn, who, "building.update", f"building:{id}", **changes)
    return get_building(conn, who, id=id)


def decommission_building(conn: psycopg.Connection, who: Principal, *, id: str) -> dict[str, Any]:
    """Retire a building once none of its devices is active."""
    get_building(conn, who, id=id, active=True)
    with conn.transaction():
        row = conn.execute(BUILDINGS.active_devices, (id,)).fetchone()
        if row and row[0]:
            raise Conflict(f"building {id!r} still has {row[0]} active devices; decommission them first")
        conn.execute(BUILDINGS.decommission, (id,))
        audit(conn, who, "building.decommission", f"building:{id}")
    return get_building(conn, who, id=id)
