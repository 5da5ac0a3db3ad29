"""Rows as dicts, tenant-visible lookups and id-ordered pages, and UPDATE statements built from
a whitelist of columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from api.errors import NotFound
from api.pagination import decode, page
from api.security import Principal

Query = LiteralString | sql.SQL | sql.Composed
Params = Mapping[str, Any] | tuple[Any, ...]
Page = tuple[list[dict[str, Any]], str | None]


def all_rows(conn: psycopg.Connection, query: Query, params: Params = ()) -> list[dict[str, Any]]:
    """Every row as a dict."""
    return conn.cursor(row_factory=dict_row).execute(query, params).fetchall()


def one_row(conn: psycopg.Connection, query: Query, params: Params = ()) -> dict[str, Any] | None:
    """The first row as a dict, or None."""
    return conn.cursor(row_factory=dict_row).execute(query, params).fetchone()


async def fetch_one(
    conn: psycopg.AsyncConnection, query: Query, params: Params = ()
) -> dict[str, Any] | None:
    """`one_row` on the event loop's connection."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(query, params)
    return await cursor.fetchone()


def assignments(changes: Mapping[str, Any]) -> sql.Composed:
    """`col = %(col)s, ...` for the given columns (names come from our models, never from input)."""
    return sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in changes
    )


def visible_row(
    conn: psycopg.Connection, query: Query, who: Principal, *, what: str, id: str, active: bool
) -> dict[str, Any]:
    """The row of `id` if the caller's tenancy sees it (and, with `active`, it is in service);
    NotFound otherwise, another company's rows included."""
    row = one_row(conn, query, {"id": id, "tenant": who.tenant})
    if row is None or (active and row["decommissioned_at"] is not None):
        raise NotFound(f"{what} {id!r} not found")
    return row


def id_page(
    conn: psycopg.Connection,
    query: Query,
    who: Principal,
    filters: Mapping[str, Any],
    *,
    include_decommissioned: bool,
    limit: int,
    cursor: str | None,
) -> Page:
    """One page of the caller's rows ordered by id, and the cursor of the next."""
    after = decode(cursor, [str])
    params = {
        "tenant": who.tenant, **filters, "all": include_decommissioned, "after": after and after[0],
        "limit": limit + 1,
    }  # fmt: skip
    return page(all_rows(conn, query, params), limit, lambda r: [r["id"]])
