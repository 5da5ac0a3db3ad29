"""Migrations apply once, are safe to run twice and refuse an edited migration."""

from __future__ import annotations

import psycopg
import pytest

from core.config import Settings
from core.db import migrate as migrations
from core.db.migrate import Migration, MigrationError, available, migrate


def test_second_run_applies_nothing(settings: Settings, conn: psycopg.Connection) -> None:
    assert migrate(settings.database_url) == []
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
    assert versions == [m.version for m in available()]


def test_edited_migration_is_refused(
    settings: Settings, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = available()[0]
    edited = Migration(first.version, first.name, first.sql + "\n-- edited\n")
    monkeypatch.setattr(migrations, "available", lambda: [edited, *available()[1:]])
    with pytest.raises(MigrationError, match="was changed after it was applied"):
        migrate(settings.database_url)


def test_every_device_hypertable_exists(conn: psycopg.Connection) -> None:
    rows = conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables").fetchall()
    names = {r[0] for r in rows}
    assert {"ev_charger_telemetry", "elevator_events", "device_status", "ingest_rejects"} <= names
