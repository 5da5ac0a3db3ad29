"""Platform administration: companies, API keys, the audit log (admin keys only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from api.deps import AdminCaller, ConnDep, KeyCacheDep, SettingsDep
from api.errors import ERROR_RESPONSES
from api.models import AuditEntry, Company, CompanyIn, Key, KeyCreated, KeyIn, Page, QueryText
from api.pagination import Cursor, Limit
from api.routing import StrictQueryRoute
from api.service import access

router = APIRouter(
    route_class=StrictQueryRoute, prefix="/v1", tags=["administration"], responses=ERROR_RESPONSES
)


@router.post("/companies", response_model=Company, status_code=status.HTTP_201_CREATED)
def create_company(body: CompanyIn, conn: ConnDep, who: AdminCaller) -> dict[str, object]:
    """Register a property-management company."""
    return access.create_company(
        conn, id=body.id, name=body.name, actor=who.actor, client_addr=who.client_addr
    )


@router.get("/companies", response_model=Page[Company])
def list_companies(
    conn: ConnDep, who: AdminCaller, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, object]:
    """Companies by id."""
    items, next_cursor = access.list_companies(conn, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/keys", response_model=KeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(body: KeyIn, conn: ConnDep, who: AdminCaller, settings: SettingsDep) -> dict[str, object]:
    """Issue an API key; the whole key is in this response only."""
    return access.create_key(
        conn,
        role=body.role,
        company_id=body.company_id,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days or settings.api_key_expiry_days,
        label=body.label,
        created_by=who.actor,
        client_addr=who.client_addr,
        owner_id=body.owner_id,
    )


@router.get("/keys", response_model=Page[Key])
def list_keys(conn: ConnDep, who: AdminCaller, limit: Limit = 50, cursor: Cursor = None) -> dict[str, object]:
    """Keys by id, without their secrets."""
    items, next_cursor = access.list_keys(conn, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.delete("/keys/{key_id}", response_model=Key)
def revoke_key(
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", examples=["3fa85f64a1b2"])],
    conn: ConnDep,
    who: AdminCaller,
    keys: KeyCacheDep,
) -> dict[str, object]:
    """Revoke a key; its next request is refused."""
    revoked = access.revoke_key(conn, key_id=key_id, actor=who.actor, client_addr=who.client_addr)
    keys.forget()  # this process at once; the others when the database's NOTIFY reaches them
    return revoked


@router.get("/audit", response_model=Page[AuditEntry])
def list_audit(
    conn: ConnDep,
    who: AdminCaller,
    target: QueryText = None,
    actor: QueryText = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, object]:
    """Every change made through the API or the CLI, newest first."""
    items, next_cursor = access.list_audit(conn, target=target, actor=actor, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}
