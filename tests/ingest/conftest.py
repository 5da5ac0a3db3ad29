"""Fixtures of the ingest tests."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from core.broker.client import purge_sessions
from core.broker.dynsec import new_password
from core.config import Settings
from tests.factories import Fleet, Publisher


@pytest.fixture
def gateway(settings: Settings, fleet: Fleet) -> Iterator[Callable[[], Publisher]]:
    """Connect publishers as one account allowed on the fleet's topics, with a persistent session."""
    name = f"test-gw-{secrets.token_hex(3)}"
    password = new_password()
    acl = [{"acltype": "publishClientSend", "topic": f"community/{fleet.community_id}/#", "allow": True}]
    fleet.broker.ensure_service_account(name, password, name, acl)
    made: list[Publisher] = []

    def connect() -> Publisher:
        made.append(Publisher(settings, name, password, f"{name}-{len(made)}", persistent=True))
        return made[-1]

    yield connect
    for pub in made:
        pub.close()
    purge_sessions(fleet.settings.require_mqtt(), [f"{name}-{i}" for i in range(len(made))])
    fleet.broker.run(
        [{"command": "deleteClient", "username": name}, {"command": "deleteRole", "rolename": name}]
    )
