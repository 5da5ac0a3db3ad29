"""Companies, API keys, authentication and the audit log."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from api import security
from api.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from api.pagination import bigint, decode, page
from api.queries import AUDIT, COMPANIES, KEYS
from api.security import COMPANY_ROLES, ROLE_SCOPES, Principal, Role, Scope
from api.service.rows import all_rows, fetch_one, one_row
from core.contract.topics import ID_PATTERN, is_valid_id


def record(
    conn: psycopg.Connection,
    *,
    actor: str,
    company_id: str | None,
    client_addr: str | None,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit entry (inside the transaction of the change it describes)."""
    row = (actor, company_id, client_addr, action, target, Jsonb(detail or {}))
    conn.execute(AUDIT.insert, row)


def audit(conn: psycopg.Connection, who: Principal, action: str, target: str, **detail: Any) -> None:
    """Audit a change made by an API caller."""
    record(
        conn,
        actor=who.actor,
        company_id=who.company_id,
        client_addr=who.client_addr,
        action=action,
        target=target,
        detail=detail,
    )


async def authenticate(conn: psycopg.AsyncConnection, key: str, client_addr: str | None) -> Principal:
    """The caller a key stands for; Unauthorized with the precise reason otherwise."""
    if not security.KEY_PATTERN.match(key):
        raise Unauthorized("malformed API key")
    row = await fetch_one(conn, KEYS.by_hash, (security.key_hash(key),))
    if row is None:
        raise Unauthorized("unknown API key")
    if row["revoked"]:
        raise Unauthorized("API key revoked")
    if row["expired"]:
        raise Unauthorized("API key expired")
    return Principal(
        key_id=row["id"],
        role=Role(row["role"]),
        company_id=row["company_id"],
        scopes=frozenset(Scope(s) for s in row["scopes"]),
        client_addr=client_addr,
        owner_id=row["owner_id"],
        expires_at=row["expires_at"],
    )


def create_key(
    conn: psycopg.Connection,
    *,
    role: Role,
    company_id: str | None,
    scopes: list[Scope] | None,
    expires_in_days: int,
    label: str,
    created_by: str,
    client_addr: str | None = None,
    owner_id: str | None = None,
) -> dict[str, Any]:
    """A new key (the returned dict holds the whole key once, under "key"); an owner key names
    its owner (`parking_spaces.owner_id`)."""
    allowed = ROLE_SCOPES[role]
    chosen = set(scopes) if scopes is not None else set(allowed)
    if not chosen <= allowed:
        extra = ", ".join(sorted(chosen - allowed))
        raise Invalid(f"scopes not allowed for role {role.value}: {extra}")
    if role in COMPANY_ROLES and company_id is None:
        raise Invalid(f"a {role.value} key needs a company_id")
    if role is Role.ADMIN and company_id is not None:
        raise Invalid("an admin key belongs to no company")
    if (role is Role.OWNER) != (owner_id is not None):
        raise Invalid("an owner key, and only an owner key, needs an owner id")
    if owner_id is not None and not is_valid_id(owner_id):
        raise Invalid(f"owner id {owner_id!r} must match {ID_PATTERN}")
    if company_id is not None and conn.execute(COMPANIES.exists, (company_id,)).fetchone() is None:
        raise NotFound(f"company {company_id!r} not found")
    key_id, key = security.new_key()
    params = {
        "id": key_id,
        "hash": security.key_hash(key),
        "role": role.value,
        "company_id": company_id,
        "owner_id": owner_id,
        "scopes": sorted(chosen),
        "label": label,
        "created_by": created_by,
        "days": expires_in_days,
    }
    with conn.transaction():
        row = one_row(conn, KEYS.insert, params)
        assert row is not None
        detail = {
            "role": role.value,
            "company_id": company_id,
            "owner_id": owner_id,
            "scopes": sorted(chosen),
        }
        record(
            conn,
            actor=created_by,
            company_id=None,
            client_addr=client_addr,
            action="key.create",
            target=f"key:{key_id}",
            detail=detail,
        )
    return {**row, "key": key}


def list_keys(
    conn: psycopg.Connection, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Keys by id (never their secrets)."""
    after = decode(cursor, [str])
    rows = all_rows(conn, KEYS.page, {"after": after and after[0], "limit": limit + 1})
    return page(rows, limit, lambda r: [r["id"]])


def revoke_key(
    conn: psycopg.Connection, *, key_id: str, actor: str, client_addr: str | None = None
) -> dict[str, Any]:
    """Revoke a key at once (its next request gets 401)."""
    if actor == f"key:{key_id}":
        raise Forbidden("a key cannot revoke itself; use another admin key")
    with conn.transaction():
        row = one_row(conn, KEYS.revoke, (key_id,))
        if row is None:
            raise NotFound(f"active key {key_id!r} not found")
        record(
            conn,
            actor=actor,
            company_id=None,
            client_addr=client_addr,
            action="key.revoke",
            target=f"key:{key_id}",
        )
    return row


def create_company(
    conn: psycopg.Connection, *, id: str, name: str, actor: str, client_addr: str | None = None
) -> dict[str, Any]:
    """Register a property-management company."""
    if not is_valid_id(id):
        raise Invalid(f"company id {id!r} must match {ID_PATTERN}")
    with conn.transaction():
        try:
            row = one_row(conn, COMPANIES.insert, (id, name))
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"company {id!r} already exists") from None
        record(
            conn,
            actor=actor,
            company_id=None,
            client_addr=client_addr,
            action="company.create",
            target=f"company:{id}",
            detail={"name": name},
        )
    assert row is not None
    return row


def list_companies(
    conn: psycopg.Connection, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Companies by id."""
    after = decode(cursor, [str])
    rows = all_rows(conn, COMPANIES.page, {"after": after and after[0], "limit": limit + 1})
    return page(rows, limit, lambda r: [r["id"]])


def list_audit(
    conn: psycopg.Connection, *, target: str | None, actor: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Audit entries, newest first."""
    before = decode(cursor, [bigint])
    params = {"target": target, "actor": actor, "before": before and before[0], "limit": limit + 1}
    return page(all_rows(conn, AUDIT.page, params), limit, lambda r: [r["id"]])
