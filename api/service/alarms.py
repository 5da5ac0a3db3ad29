"""Alarms: list and filter, acknowledge, clear (the lifecycle of the anomaly issue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, LiteralString

import psycopg

from api.errors import Conflict, NotFound
from api.pagination import bigint, decode, page
from api.queries import ALARMS
from api.security import Principal
from api.service.access import audit
from api.service.rows import Page, all_rows, one_row


def get_alarm(conn: psycopg.Connection, who: Principal, *, id: int) -> dict[str, Any]:
    """An alarm of one of the caller's communities."""
    row = one_row(conn, ALARMS.get, {"id": id, "tenant": who.tenant})
    if row is None:
        raise NotFound(f"alarm {id} not found")
    return row


def list_alarms(
    conn: psycopg.Connection, who: Principal, *, filters: dict[str, Any], limit: int, cursor: str | None
) -> Page:
    """Alarms newest first (by first seen), filtered."""
    after = decode(cursor, [datetime.fromisoformat, bigint])
    params = {
        **filters,
        "tenant": who.tenant,
        "after_ts": after and after[0],
        "after_id": after and after[1],
        "limit": limit + 1,
    }
    rows = all_rows(conn, ALARMS.page, params)
    return page(rows, limit, lambda r: [r["first_seen"].isoformat(), r["id"]])


def _transition(
    conn: psycopg.Connection, who: Principal, *, id: int, query: LiteralString, action: str
) -> dict[str, Any]:
    alarm = get_alarm(conn, who, id=id)
    with conn.transaction():
        if conn.execute(query, (who.actor, id)).fetchone() is None:
            raise Conflict(f"alarm {id} is {alarm['status']}: {action} does not apply")
        audit(conn, who, f"alarm.{action}", f"alarm:{id}", device_id=alarm["device_id"], type=alarm["type"])
    return get_alarm(conn, who, id=id)


def acknowledge(conn: psycopg.Connection, who: Principal, *, id: int) -> dict[str, Any]:
    """An operator has seen the alarm (active-unacknowledged -> active-acknowledged)."""
    return _transition(conn, who, id=id, query=ALARMS.acknowledge, action="acknowledge")


def clear(conn: psycopg.Connection, who: Principal, *, id: int) -> dict[str, Any]:
    """The alarm is resolved (any open status -> cleared); the next detection opens a new one."""
    return _transition(conn, who, id=id, query=ALARMS.clear, action="clear")
