"""Small builders shared by the API tests."""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any

import httpx
import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

from core.contract.topics import Channel, Kind
from core.db.tables import DEVICE_TABLES

Headers = dict[str, str]


def bearer(key: str) -> Headers:
    return {"Authorization": f"Bearer {key}"}


def refused_soon(client: TestClient, headers: Headers, within_s: float = 5.0) -> httpx.Response:
    """The first answer to `headers` that is not 200, waiting up to `within_s`: a key changed by
    another connection is refused once PostgreSQL's NOTIFY has reached the app (api/keycache.py),
    within milliseconds, where the cache alone would keep it for `api_key_cache_s`."""
    deadline = time.monotonic() + within_s
    while True:
        response = client.get("/v1/communities", headers=headers)
        if response.status_code != 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.01)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def provision(
    client: TestClient, headers: Headers, community_id: str, kind: Kind, made: list[str], **extra: Any
) -> dict[str, Any]:
    """POST a device; its id goes into `made` for the clean-up."""
    device_id = unique(kind.value.replace("_", "-"))
    body = {"id": device_id, "community_id": community_id, "kind": kind.value, **extra}
    response = client.post("/v1/devices", json=body, headers=headers)
    assert response.status_code == 201, response.text
    made.append(device_id)
    return response.json()


def insert_telemetry(
    conn: psycopg.Connection, kind: Kind, device_id: str, rows: list[dict[str, Any]]
) -> None:
    """Telemetry rows written as ingest writes them (ts, seq and the kind's fields)."""
    table = DEVICE_TABLES[(kind, Channel.TELEMETRY)]
    columns = [c for c in table.columns if c != "device_id"]
    query = sql.SQL("INSERT INTO {} (device_id, {}) VALUES (%s, {})").format(
        sql.Identifier(table.name),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    with conn.cursor() as cur:
        cur.executemany(query, [(device_id, *[row.get(c, 0) for c in columns]) for row in rows])


def insert_alarm(
    conn: psycopg.Connection,
    *,
    device_id: str,
    community_id: str,
    type: str,
    severity: str,
    first_seen: datetime,
    status: str = "active-unacknowledged",
) -> int:
    """An alarm as analytics raises it."""
    row = conn.execute(
        """INSERT INTO anomalies (device_id, community_id, type, detector, severity, score, first_seen,
               last_seen, status, cleared_at, explanation)
           VALUES (%s, %s, %s, 'rule:test', %s, 1.0, %s, %s, %s,
                   CASE WHEN %s = 'cleared' THEN %s END, 'made by a test')
           RETURNING id""",
        (device_id, community_id, type, severity, first_seen, first_seen, status, status, first_seen),
    ).fetchone()
    assert row is not None
    return int(row[0])
