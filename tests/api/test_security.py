"""Keys: missing, malformed, unknown, expired, revoked; stored hashed; the CLI; audit; rate limits."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from api.security import Role
from core.config import Settings
from tests.api.conftest import Tenants, new_key
from tests.api.helpers import bearer, refused_soon, unique
from yiju.cli import app as yiju


def _error(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["code"] == code and body["message"]
    return body


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing"),
        ({"Authorization": "Bearer not-a-key"}, "malformed"),
        ({"Authorization": "Bearer yiju_0123456789ab_" + "A" * 43}, "unknown"),
    ],
)
def test_requests_without_a_valid_key_get_401(
    client: TestClient, headers: dict[str, str], reason: str
) -> None:
    response = client.get("/v1/communities", headers=headers)
    body = _error(response, 401, "unauthorized")
    assert reason in str(body["message"])
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


_SAMPLE = {"month": "2026-11", "alarm_id": "1", "key_id": "0123456789ab"}
OPERATIONS = [
    (method.upper(), path)
    for path, operations in create_app(Settings.model_validate({"database_url": "postgresql://unused/x"}))
    .openapi()["paths"]
    .items()
    for method in operations
    if path.startswith("/v1")
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_needs_a_key(client: TestClient, method: str, path: str) -> None:
    url = re.sub(r"\{(\w+)\}", lambda m: _SAMPLE.get(m.group(1), "lift-01"), path)
    for headers in ({}, {"Authorization": "Bearer yiju_0123456789ab_" + "C" * 43}):
        response = client.request(method, url, headers=headers, json={})
        assert response.status_code == 401 and response.json()["code"] == "unauthorized", response.text


def test_expired_key_is_refused(client: TestClient, conn: psycopg.Connection) -> None:
    key_id, headers = new_key(conn, Role.ADMIN)
    assert client.get("/v1/communities", headers=headers).status_code == 200
    conn.execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %s", (key_id,))
    assert "expired" in str(_error(refused_soon(client, headers), 401, "unauthorized")["message"])


def test_revoked_key_is_refused_at_once_and_the_revocation_audited(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    key_id, headers = new_key(conn, Role.OPERATOR, tenants.company_a)
    assert client.get("/v1/communities", headers=headers).status_code == 200
    revoked = client.delete(f"/v1/keys/{key_id}", headers=tenants.admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert "revoked" in str(
        _error(client.get("/v1/communities", headers=headers), 401, "unauthorized")["message"]
    )
    _error(client.delete(f"/v1/keys/{key_id}", headers=tenants.admin), 404, "not_found")
    audit = client.get("/v1/audit", params={"target": f"key:{key_id}"}, headers=tenants.admin).json()["items"]
    assert [e["action"] for e in audit] == ["key.revoke", "key.create"]


def test_keys_are_stored_hashed_and_listed_without_secrets(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    made = client.post(
        "/v1/keys",
        json={"role": "integrator", "company_id": tenants.company_a, "expires_in_days": 7},
        headers=tenants.admin,
    )
    assert made.status_code == 201, made.text
    key, key_id = made.json()["key"], made.json()["id"]
    assert made.json()["scopes"] == ["devices:write", "registry:read", "telemetry:read"]
    stored = conn.execute("SELECT key_hash FROM api_keys WHERE id = %s", (key_id,)).fetchone()
    assert stored is not None and key.encode() not in bytes(stored[0]) and len(bytes(stored[0])) == 32
    dump = conn.execute("SELECT api_keys::text FROM api_keys WHERE id = %s", (key_id,)).fetchone()
    assert dump is not None and key.split("_")[2] not in dump[0]
    listed = client.get("/v1/keys", params={"limit": 500}, headers=tenants.admin).json()["items"]
    assert key_id in {k["id"] for k in listed} and all("key" not in k for k in listed)
    assert client.get("/v1/devices", headers=bearer(key)).status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"role": "operator"}, 422),  # an operator key needs a company
        ({"role": "admin", "company_id": "wuye-none"}, 422),
        ({"role": "parking_app", "scopes": ["registry:read"]}, 422),  # beyond the role
        ({"role": "integrator", "company_id": "no-such-company"}, 404),
        ({"role": "superuser"}, 422),
        ({"role": "admin", "expires_in_days": 0}, 422),
    ],
)
def test_key_requests_that_cannot_be_granted(
    client: TestClient, tenants: Tenants, body: object, status: int
) -> None:
    assert client.post("/v1/keys", json=body, headers=tenants.admin).status_code == status


def test_a_key_with_fewer_scopes_is_held_to_them(client: TestClient, tenants: Tenants) -> None:
    body = {"role": "operator", "company_id": tenants.company_a, "scopes": ["alarms:read"]}
    key = client.post("/v1/keys", json=body, headers=tenants.admin).json()["key"]
    assert client.get("/v1/alarms", headers=bearer(key)).status_code == 200
    _error(client.get("/v1/communities", headers=bearer(key)), 403, "forbidden")


def test_cli_creates_company_and_key_that_work(
    cli: CliRunner, client: TestClient, conn: psycopg.Connection
) -> None:
    company = unique("wuye")
    assert cli.invoke(yiju, ["auth", "create-company", "--id", company, "--name", "物业"]).exit_code == 0
    made = cli.invoke(
        yiju, ["auth", "create-key", "--role", "operator", "--company", company, "--expires", "30"]
    )
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert client.get("/v1/communities", headers=bearer(key)).json() == {"items": [], "next_cursor": None}
    row = conn.execute(
        "SELECT expires_at - created_at, created_by FROM api_keys WHERE id = %s", (key.split("_")[1],)
    ).fetchone()
    assert row is not None and row[0].days == 30 and row[1] == "cli"
    refused = cli.invoke(yiju, ["auth", "create-key", "--role", "operator"])
    assert refused.exit_code == 2 and "company_id" in refused.output
    assert cli.invoke(yiju, ["auth", "revoke-key", key.split("_")[1]]).exit_code == 0
    assert refused_soon(client, bearer(key)).status_code == 401


def test_every_change_is_audited_with_who_and_where(client: TestClient, tenants: Tenants) -> None:
    building = unique("bld")
    body = {"id": building, "community_id": tenants.community_a, "name": "2栋", "floors": 7}
    headers = {**tenants.operator_a, "X-Forwarded-For": "203.0.113.9"}
    assert client.post("/v1/buildings", json=body, headers=headers).status_code == 201
    assert client.patch(f"/v1/buildings/{building}", json={"floors": 6}, headers=headers).status_code == 200
    assert client.delete(f"/v1/buildings/{building}", headers=headers).status_code == 200
    entries = client.get("/v1/audit", params={"target": f"building:{building}"}, headers=tenants.admin).json()
    actions = [(e["action"], e["company_id"], e["detail"].get("floors")) for e in entries["items"]]
    assert actions == [
        ("building.decommission", tenants.company_a, None),
        ("building.update", tenants.company_a, 6),
        ("building.create", tenants.company_a, 7),
    ]
    assert {e["actor"].startswith("key:") for e in entries["items"]} == {True}
    # The TestClient's address; X-Forwarded-For counts only behind a trusted proxy (uvicorn's job).
    assert {e["client_addr"] for e in entries["items"]} == {"testclient"}


@pytest.fixture
def strict_client(settings: Settings) -> Iterator[TestClient]:
    """An app allowing 3 requests a minute per key and 2 failed authentications per address."""
    strict = settings.model_copy(update={"api_rate_limit": "3/minute", "api_auth_failure_limit": "2/minute"})
    with TestClient(create_app(strict)) as test_client:
        yield test_client


def test_rate_limit_per_key_answers_429_with_retry_after(
    strict_client: TestClient, conn: psycopg.Connection
) -> None:
    _, first = new_key(conn, Role.ADMIN)
    _, second = new_key(conn, Role.ADMIN)
    for _ in range(3):
        assert strict_client.get("/v1/communities", headers=first).status_code == 200
    limited = strict_client.get("/v1/communities", headers=first)
    _error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert strict_client.get("/v1/communities", headers=second).status_code == 200


def test_repeated_bad_keys_from_one_address_get_429(
    strict_client: TestClient, conn: psycopg.Connection
) -> None:
    bad = {"Authorization": "Bearer yiju_0123456789ab_" + "B" * 43}
    assert [strict_client.get("/v1/communities", headers=bad).status_code for _ in range(3)] == [
        401,
        401,
        429,
    ]
    _, good = new_key(conn, Role.ADMIN)
    limited = strict_client.get("/v1/communities", headers=good)
    _error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
