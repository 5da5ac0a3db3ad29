"""Authenticated keys remembered per process: forgotten on any key change, on expiry, and while
the process is not listening for changes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.keycache import APPLICATION_NAME, KeyCache
from api.main import create_app
from api.security import Principal, Role, Scope, key_hash
from core.config import Settings
from tests.api.conftest import new_key
from tests.api.helpers import refused_soon
from tests.processes import wait_until


def _principal(expires_in_s: float = 3600.0) -> Principal:
    expires_at = datetime.now(UTC) + timedelta(seconds=expires_in_s)
    return Principal("0123456789ab", Role.ADMIN, None, frozenset(Scope), "198.51.100.7", None, expires_at)


@pytest.fixture
def app_client(api_settings: Settings) -> Iterator[TestClient]:
    """An app of its own that would remember keys for an hour, listening for changes."""
    app = create_app(api_settings.model_copy(update={"api_key_cache_s": 3600.0}))
    with TestClient(app) as client:
        wait_until(lambda: app.state.keys.listening, timeout=5, what="the key listener")
        yield client


def _keys(client: TestClient) -> KeyCache:
    keys: KeyCache = client.app.state.keys  # type: ignore[attr-defined]
    return keys


def _bearer_hash(headers: dict[str, str]) -> bytes:
    return key_hash(headers["Authorization"].removeprefix("Bearer "))


def _remembered(client: TestClient, headers: dict[str, str]) -> bool:
    return _keys(client).get(_bearer_hash(headers), None) is not None


def test_a_key_is_remembered_and_refused_once_revoked_elsewhere(
    app_client: TestClient, conn: psycopg.Connection
) -> None:
    key_id, headers = new_key(conn, Role.ADMIN)
    assert app_client.get("/v1/communities", headers=headers).status_code == 200
    remembered = _keys(app_client).get(_bearer_hash(headers), "203.0.113.5")
    assert remembered is not None and remembered.key_id == key_id and remembered.client_addr == "203.0.113.5"
    conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (key_id,))
    refused = refused_soon(app_client, headers)  # well before the hour the cache would keep it
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]


def test_any_key_change_forgets_every_key(app_client: TestClient, conn: psycopg.Connection) -> None:
    _, headers = new_key(conn, Role.ADMIN)
    other_id, _ = new_key(conn, Role.ADMIN)
    assert app_client.get("/v1/communities", headers=headers).status_code == 200
    assert _remembered(app_client, headers)
    conn.execute("DELETE FROM api_keys WHERE id = %s", (other_id,))
    wait_until(lambda: not _remembered(app_client, headers), timeout=5, what="keys forgotten")
    assert app_client.get("/v1/communities", headers=headers).status_code == 200


def test_the_listener_comes_back_after_its_connection_is_killed(
    app_client: TestClient, conn: psycopg.Connection
) -> None:
    key_id, headers = new_key(conn, Role.ADMIN)
    assert app_client.get("/v1/communities", headers=headers).status_code == 200
    killed = conn.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
        (APPLICATION_NAME,),
    ).fetchone()
    assert killed is not None and killed[0] >= 1
    # Nothing remembered while not listening; listening again within a few seconds.
    wait_until(lambda: not _remembered(app_client, headers), timeout=5, what="keys forgotten")
    wait_until(lambda: _keys(app_client).listening, timeout=5, what="listening again")
    assert app_client.get("/v1/communities", headers=headers).status_code == 200
    conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (key_id,))
    assert refused_soon(app_client, headers).status_code == 401


def test_a_lookup_that_began_before_a_change_is_not_kept() -> None:
    keys = KeyCache(60.0)
    keys.listening = True
    began = keys.generation
    keys.forget()  # a key changed while the lookup ran
    keys.put(b"h", _principal(), began)
    assert keys.get(b"h", None) is None
    keys.put(b"h", _principal(), keys.generation)
    assert keys.get(b"h", None) is not None


def test_nothing_is_remembered_while_not_listening_or_with_no_ttl() -> None:
    deaf = KeyCache(60.0)
    deaf.put(b"h", _principal(), deaf.generation)
    assert deaf.get(b"h", None) is None
    off = KeyCache(0.0)
    off.listening = True
    off.put(b"h", _principal(), off.generation)
    assert off.get(b"h", None) is None


def test_a_remembered_key_is_forgotten_when_it_expires() -> None:
    keys = KeyCache(60.0)
    keys.listening = True
    keys.put(b"soon", _principal(expires_in_s=0.3), keys.generation)
    keys.put(b"later", _principal(), keys.generation)
    assert keys.get(b"soon", None) is not None
    time.sleep(0.4)
    assert keys.get(b"soon", None) is None and keys.get(b"later", None) is not None
