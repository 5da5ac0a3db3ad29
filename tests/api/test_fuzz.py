"""Schemathesis against the app's own OpenAPI, served by uvicorn on the real database and broker.

No generated request may get a 5xx, and every response must match what the document promises.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from api.main import create_app
from core.broker import dynsec
from core.config import Settings
from tests.api.conftest import Tenants

# The document does not depend on the database: build it from an app that is never started.
schema = schemathesis.openapi.from_dict(
    create_app(Settings.model_validate({"database_url": "postgresql://unused/openapi"})).openapi()
)


# Rules a schema cannot state get a precise 400/422 that this check would count as a failure: a
# cursor must be one we issued, `end` after `start`, points within the bound, a building in the
# device's community. `ignored_auth` sends its probes through schemathesis' requests transport,
# which fails under urllib3-future; tests/api/test_security.py sends every operation without a key.
EXCLUDED: list[Any] = [positive_data_acceptance, ignored_auth]


@pytest.fixture(scope="module")
def base_url(api_settings: Settings, tenants: Tenants) -> Iterator[str]:
    """The API served on a loopback port; devices the fuzzing provisions lose their broker accounts after."""
    started = datetime.now(UTC)
    server = uvicorn.Server(
        uvicorn.Config(create_app(api_settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="fuzzed-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    with psycopg.connect(api_settings.database_url, autocommit=True) as conn:
        made = [r[0] for r in conn.execute("SELECT id FROM devices WHERE created_at >= %s", (started,))]
    with dynsec.connect(api_settings.require_mqtt_admin()) as broker:
        broker.remove_devices(made)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def _send(http: httpx.Client, kwargs: dict[str, Any]) -> httpx.Response | None:
    """Send a case with httpx: schemathesis' own requests transport breaks when urllib3-future
    (pulled in by grafana-client through niquests) stands in for urllib3."""
    content = json.dumps(kwargs["json"]).encode() if "json" in kwargs else kwargs.get("data")
    try:
        return http.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=kwargs["headers"],
            cookies=kwargs.get("cookies"),
            content=content,
        )
    except (httpx.LocalProtocolError, httpx.InvalidURL, UnicodeEncodeError):
        return None  # a request no HTTP client can send (e.g. a header of control characters)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_responses_match_the_schema(
    case: schemathesis.Case, base_url: str, tenants: Tenants, http: httpx.Client
) -> None:
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=tenants.admin)
    response = _send(http, kwargs)
    if response is not None:
        case.validate_response(
            response, excluded_checks=EXCLUDED, headers=kwargs["headers"], transport_kwargs=kwargs
        )
