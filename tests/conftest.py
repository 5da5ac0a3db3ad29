"""Fixtures on the real services: the project-local TimescaleDB and Mosquitto (scripts/services).

The session gets its own database (created fresh, migrated) and its own share group and
client ids, so the tests never read or disturb a demo running on the same services.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from core.broker.client import purge_sessions
from core.config import Settings, get_settings
from core.db.migrate import migrate
from tests.factories import Fleet
from tests.processes import IngestProcess


def _base_settings() -> Settings:
    missing = [
        n for n in ("YIJU_DATABASE_URL", "YIJU_MQTT_URL", "YIJU_MQTT_ADMIN_URL") if n not in os.environ
    ]
    if missing:
        pytest.exit(f"{', '.join(missing)} not set: run the tests with scripts/test", returncode=2)
    return Settings()  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    """Settings pointing at a fresh, migrated test database."""
    base = _base_settings()
    run_id = secrets.token_hex(3)
    db_name = f"yiju_test_{run_id}"
    admin_url = base.database_url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))
    test_url = admin_url.rsplit("/", 1)[0] + "/" + db_name
    migrate(test_url)
    yield base.model_copy(
        update={
            "database_url": test_url,
            "ingest_client_id": f"test-{run_id}",
            "ingest_share_group": f"t{run_id}",
            "ingest_metrics_port": 0,
            # A session left behind by a crashed test must not queue the broker full for a week.
            "ingest_session_expiry_s": 60,
        }
    )
    purge_sessions(base.require_mqtt(), [f"test-{run_id}-{i}" for i in range(4)])
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db_name)))


@pytest.fixture
def conn(settings: Settings) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test database."""
    with psycopg.connect(settings.database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def fleet(settings: Settings) -> Iterator[Fleet]:
    """A community of registered devices with broker accounts, removed after the test."""
    with Fleet(settings) as created:
        yield created


@pytest.fixture
def ingest(settings: Settings) -> Iterator[IngestProcess]:
    """A running `python -m ingest` worker process (stopped with SIGTERM after the test)."""
    proc = IngestProcess(settings)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A typer runner whose commands see the test settings."""
    for key, value in settings.to_env().items():
        if key.startswith("YIJU_"):
            monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
