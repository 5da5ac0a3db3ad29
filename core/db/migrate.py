"""Apply versioned SQL migrations once each, recorded in `schema_migrations`.

A small runner rather than Alembic or yoyo: the schema is plain SQL for TimescaleDB, and the
runner only needs ordering, checksums and a lock so that two processes never race.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources

import psycopg

from core.db import rollups
from core.db.queries import MIGRATIONS

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x59494A55  # "YIJU": serialises concurrent migrators


@dataclass(frozen=True)
class Migration:
    """One versioned SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """An applied migration was edited, or a migration failed."""


def available() -> list[Migration]:
    """Migrations shipped in core/db/migrations, in version order."""
    found = []
    for entry in resources.files("core.db.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(int(version), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def migrate(database_url: str) -> list[Migration]:
    """Apply what is missing; safe to run twice and from two processes at once."""
    applied_now: list[Migration] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(MIGRATIONS.lock, (_LOCK_KEY,))
        try:
            conn.execute(MIGRATIONS.create_table)
            done: dict[int, str] = dict(conn.execute(MIGRATIONS.applied).fetchall())
            for migration in available():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version} ({migration.name}) was changed "
                            "after it was applied; add a new migration instead"
                        )
                    continue
                logger.info("applying migration %04d %s", migration.version, migration.name)
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        MIGRATIONS.record,
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration)
            rollups.ensure(conn)
        finally:
            conn.execute(MIGRATIONS.unlock, (_LOCK_KEY,))
    return applied_now
