"""The app factory: the database pools and one broker admin session per process, opened by the
lifespan.

Two pools: the sync one serves the routes that run in worker threads; the asyncio one serves
authentication and the hot reads (latest state, series) on the event loop, because every hop
to a worker thread costs about as much CPU as the query it carries (`yiju bench api`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress

import anyio
import psycopg
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import errors
from api.bodysize import BodySizeLimit
from api.keycache import KeyCache
from api.metrics import METRICS_PATH, RequestMetrics, metrics
from api.metrics import registry as metrics_registry
from api.ratelimit import RateLimiter
from api.routes import admin, alarms, buildings, communities, devices, health, kpis, parking, telemetry
from core.broker import dynsec
from core.config import Settings, get_settings
from core.db.pool import open_async_pool, open_pool

DESCRIPTION = """Yiju (宜居) for operators, parking apps and integrators.

Every `/v1` request carries `Authorization: Bearer <API key>`. An operator's key sees only the
communities of its company: anything else is `404`. Lists are paged with `cursor`/`next_cursor`.
Errors share one body: `{"code", "message", "details"}`.
"""


def _autocommit(conn: psycopg.Connection) -> None:
    conn.autocommit = True


async def _async_autocommit(conn: psycopg.AsyncConnection) -> None:
    await conn.set_autocommit(True)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for these settings (the environment's by default)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            pool = open_pool(settings, name="api", max_size=settings.api_pool_size, configure=_autocommit)
            stack.callback(pool.close)
            app.state.pool = pool
            apool = await open_async_pool(
                settings, name="api-loop", max_size=settings.api_pool_size, configure=_async_autocommit
            )
            stack.push_async_callback(apool.close)
            app.state.apool = apool
            app.state.db_slots = anyio.Semaphore(settings.api_pool_size)
            listener = asyncio.create_task(app.state.keys.listen(settings.database_url))
            stack.push_async_callback(_stop, listener)
            app.state.broker = None
            if settings.mqtt_admin_url is not None:
                app.state.broker = stack.enter_context(dynsec.connect(settings.mqtt_admin_url))
            yield

    app = FastAPI(
        title="Yiju API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.keys = KeyCache(settings.api_key_cache_s)
    app.state.limiter = RateLimiter(settings.api_rate_limit, settings.api_auth_failure_limit)
    errors.install(app)
    for module in (health, admin, communities, buildings, devices, telemetry, alarms, kpis, parking):
        app.include_router(module.router)
    origins = [o.strip() for o in settings.api_cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    app.state.metrics = metrics_registry()
    app.add_middleware(RequestMetrics, registry=app.state.metrics)
    app.get(METRICS_PATH, include_in_schema=False)(metrics)
    return app
