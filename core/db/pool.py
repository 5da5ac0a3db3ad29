"""Connection pools, opened when the database answers: one per process, and for the API's
event loop an asyncio one beside it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from core.config import Settings

logger = logging.getLogger(__name__)


def wait_for_database(settings: Settings) -> None:
    """Block until the database accepts connections, or fail after the configured timeout."""

    @retry(
        retry=retry_if_exception_type(psycopg.OperationalError),
        wait=wait_exponential(multiplier=0.1, max=2),
        stop=stop_after_delay(settings.db_connect_timeout_s),
        before_sleep=before_sleep_log(logger, logging.WARNING),
        reraise=True,
    )
    def ping() -> None:
        with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")

    ping()


def open_pool(
    settings: Settings,
    *,
    name: str,
    min_size: int = 1,
    max_size: int | None = None,
    configure: Callable[[psycopg.Connection], None] | None = None,
) -> ConnectionPool:
    """Open the process's pool (call `close()` when the process stops)."""
    wait_for_database(settings)
    pool = ConnectionPool(
        settings.database_url,
        min_size=min_size,
        max_size=max_size or settings.db_pool_max,
        kwargs={"application_name": f"yiju-{name}"},
        configure=configure,
        name=name,
        open=False,
    )
    pool.open(wait=True, timeout=settings.db_connect_timeout_s)
    return pool


async def open_async_pool(
    settings: Settings,
    *,
    name: str,
    max_size: int,
    configure: Callable[[psycopg.AsyncConnection], Awaitable[None]] | None = None,
) -> AsyncConnectionPool:
    """An asyncio pool for an event loop (call `await close()`); the database must answer already."""
    pool = AsyncConnectionPool(
        settings.database_url,
        min_size=1,
        max_size=max_size,
        kwargs={"application_name": f"yiju-{name}"},
        configure=configure,
        name=name,
        open=False,
    )
    await pool.open(wait=True, timeout=settings.db_connect_timeout_s)
    return pool
