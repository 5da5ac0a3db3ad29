"""A bench's own database, filled once with simulated history and reused while its shape holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from rich.console import Console

from core.config import Settings
from core.db.migrate import migrate


def prepared(
    settings: Settings, database: str, shape: str, refill: bool,
    fill: Callable[[psycopg.Connection, Settings, datetime], int],
) -> tuple[str, datetime]:  # fmt: skip
    """The bench database's URL and the end of its history. The database's comment records the
    shape it was filled for; another shape (or `refill`) drops it, migrates a new one and calls
    `fill(conn, settings for it, end)`, which returns the rows it wrote."""
    url = settings.database_url.rsplit("/", 1)[0] + "/" + database
    name = sql.Identifier(database)
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if row and row[0] and row[0].startswith(shape + " end=") and not refill:
            return url, datetime.fromisoformat(row[0].rsplit("end=", 1)[1])
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    migrate(url)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    console = Console(stderr=True)
    console.print(f"filling {database}: {shape}")
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        rows = fill(conn, settings.model_copy(update={"database_url": url}), end)
        conn.execute("VACUUM ANALYZE")
    console.print(f"{rows:,} rows in {time.monotonic() - started:.0f} s")
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        comment = sql.Literal(f"{shape} end={end.isoformat()}")
        admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(name, comment))
    return url, end
