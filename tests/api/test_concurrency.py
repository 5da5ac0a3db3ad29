"""More concurrent requests than connections and threads: they queue, none fails or deadlocks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from api.main import create_app
from core.config import Settings
from tests.api.conftest import Tenants


def test_requests_beyond_the_pool_wait_their_turn(api_settings: Settings, tenants: Tenants) -> None:
    # One connection, 40 worker threads, 60 requests at once: without the slots, 40 threads would
    # block in getconn while the request holding the connection waits for a thread (PoolTimeout).
    tight = api_settings.model_copy(update={"api_db_pool_max": 1, "db_connect_timeout_s": 5.0})
    with TestClient(create_app(tight)) as client, ThreadPoolExecutor(60) as executor:
        statuses = list(
            executor.map(
                lambda _: client.get("/v1/communities", headers=tenants.admin).status_code, range(60)
            )
        )
    assert statuses == [200] * 60
