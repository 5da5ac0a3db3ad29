"""The API on the real database and broker: an app per session, tenants with keys of every role."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.security import Role
from api.service import access
from core.broker import dynsec
from core.config import Settings
from tests.api.helpers import Headers, bearer


@pytest.fixture(scope="session")
def api_settings(settings: Settings) -> Settings:
    """Test settings with limits no ordinary test reaches (the rate-limit tests set their own)."""
    return settings.model_copy(
        update={"api_rate_limit": "100000/minute", "api_auth_failure_limit": "100000/minute"}
    )


@pytest.fixture(scope="session")
def client(api_settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan running (pool and broker session open)."""
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


def new_key(conn: psycopg.Connection, role: Role, company_id: str | None = None) -> tuple[str, Headers]:
    """(key id, headers) of a fresh key, made as the CLI makes them."""
    made = access.create_key(
        conn,
        role=role,
        company_id=company_id,
        scopes=None,
        expires_in_days=1,
        label="test",
        created_by="test",
    )
    return made["id"], bearer(made["key"])


@dataclass
class Tenants:
    """Two companies, each with a community; keys of every role."""

    company_a: str
    company_b: str
    community_a: str
    community_b: str
    admin: Headers
    operator_a: Headers
    operator_b: Headers
    integrator_a: Headers
    parking_app: Headers
    devices: list[str] = field(default_factory=list)

    def headers(self, who: str) -> Headers:
        return getattr(self, who)


@pytest.fixture(scope="session")
def tenants(settings: Settings, client: TestClient) -> Iterator[Tenants]:
    """Companies A and B with a community each, and one key per role; device accounts removed after."""
    run = secrets.token_hex(3)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        _, admin = new_key(conn, Role.ADMIN)
        world = Tenants(
            company_a=f"wuye-a-{run}",
            company_b=f"wuye-b-{run}",
            community_a=f"comm-a-{run}",
            community_b=f"comm-b-{run}",
            admin=admin,
            operator_a={},
            operator_b={},
            integrator_a={},
            parking_app={},
        )
        for company, community in (
            (world.company_a, world.community_a),
            (world.company_b, world.community_b),
        ):
            made = client.post("/v1/companies", json={"id": company, "name": "物业"}, headers=admin)
            assert made.status_code == 201, made.text
            body = {"id": community, "name": "小区", "district": "西陵区", "lat": 30.7, "lon": 111.3}
            made = client.post("/v1/communities", json={**body, "company_id": company}, headers=admin)
            assert made.status_code == 201, made.text
        world.operator_a = new_key(conn, Role.OPERATOR, world.company_a)[1]
        world.operator_b = new_key(conn, Role.OPERATOR, world.company_b)[1]
        world.integrator_a = new_key(conn, Role.INTEGRATOR, world.company_a)[1]
        world.parking_app = new_key(conn, Role.PARKING_APP)[1]
    yield world
    with dynsec.connect(settings.require_mqtt_admin()) as broker:
        broker.remove_devices(world.devices)


@pytest.fixture
def device_ids(tenants: Tenants) -> Iterator[list[str]]:
    """Ids for devices a test provisions; their broker accounts are removed after the session."""
    made: list[str] = []
    yield made
    tenants.devices.extend(made)
