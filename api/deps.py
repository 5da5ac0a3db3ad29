"""What routes ask for: the pool, a connection, the broker session and the authenticated caller.

Dependencies that do not block are `async def`, so FastAPI runs them on the event loop instead
of handing each to the thread pool (measurable CPU per request).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from api import security
from api.errors import Forbidden, Unauthorized
from api.keycache import KeyCache
from api.ratelimit import RateLimiter
from api.security import Principal, Scope
from api.service import access
from core.broker.dynsec import DynSec
from core.config import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_pool(request: Request) -> ConnectionPool:
    return request.app.state.pool


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[ConnectionPool, Depends(get_pool)]


async def _db_slot(request: Request) -> AsyncIterator[None]:
    """Wait, on the event loop, for one of the pool's slots (`api_pool_size`) before taking a connection.

    Without it, requests beyond the pool's size would block worker threads in `getconn` while
    the requests holding connections wait for a free thread: a deadlock until the pool times out.
    """
    async with request.app.state.db_slots:
        yield


def get_conn(pool: PoolDep, _slot: Annotated[None, Depends(_db_slot)]) -> Iterator[psycopg.Connection]:
    """One pooled connection per request (autocommit; services open transactions for changes)."""
    with pool.connection() as conn:
        yield conn


ConnDep = Annotated[psycopg.Connection, Depends(get_conn)]


async def get_broker(request: Request) -> DynSec | None:
    """The process's dynamic-security session, None when no broker admin is configured."""
    return request.app.state.broker


BrokerDep = Annotated[DynSec | None, Depends(get_broker)]


async def get_key_cache(request: Request) -> KeyCache:
    """The process's authenticated keys (`api.keycache`)."""
    return request.app.state.keys


KeyCacheDep = Annotated[KeyCache, Depends(get_key_cache)]

_bearer = HTTPBearer(
    auto_error=False, bearerFormat="yiju API key", description="`Authorization: Bearer yiju_<id>_<secret>`"
)


async def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller, authenticated and within its rate limit (on the event loop: no thread hop)."""
    limiter: RateLimiter = request.app.state.limiter
    address = request.client.host if request.client else "unknown"
    limiter.check_address(address)
    if credentials is None:
        raise Unauthorized(
            "missing `Authorization: Bearer <API key>`", headers={"WWW-Authenticate": "Bearer"}
        )
    keys: KeyCache = request.app.state.keys
    key_hash = security.key_hash(credentials.credentials)
    principal = keys.get(key_hash, address)
    if principal is None:
        generation = keys.generation
        pool: AsyncConnectionPool = request.app.state.apool
        try:
            async with pool.connection() as conn:
                principal = await access.authenticate(conn, credentials.credentials, address)
        except Unauthorized as error:
            limiter.fail_address(address)
            error.headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            raise
        keys.put(key_hash, principal, generation)
    limiter.hit_key(principal.key_id)
    return principal


async def get_aconn(
    request: Request, _caller: Annotated[Principal, Depends(get_principal)]
) -> AsyncIterator[psycopg.AsyncConnection]:
    """One connection of the event loop's pool (autocommit), for routes that run on the loop.

    It depends on the caller so that authentication has given its own connection back first:
    a request holding one connection while waiting for a second can exhaust the pool for good.
    """
    pool: AsyncConnectionPool = request.app.state.apool
    async with pool.connection() as conn:
        yield conn


AConnDep = Annotated[psycopg.AsyncConnection, Depends(get_aconn)]


def require(scope: Scope) -> Callable[[Principal], Coroutine[None, None, Principal]]:
    """A dependency admitting callers whose key holds `scope` (async: no thread hop for a set lookup)."""

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden(f"this API key ({principal.role.value}) lacks the scope {scope.value!r}")
        return principal

    return check


def require_any(*scopes: Scope) -> Callable[[Principal], Coroutine[None, None, Principal]]:
    """A dependency admitting callers whose key holds one of `scopes`."""

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.scopes.isdisjoint(scopes):
            wanted = " or ".join(repr(s.value) for s in scopes)
            raise Forbidden(f"this API key ({principal.role.value}) lacks the scope {wanted}")
        return principal

    return check


AdminCaller = Annotated[Principal, Depends(require(Scope.ADMIN))]
RegistryReader = Annotated[Principal, Depends(require(Scope.REGISTRY_READ))]
RegistryWriter = Annotated[Principal, Depends(require(Scope.REGISTRY_WRITE))]
DeviceWriter = Annotated[Principal, Depends(require(Scope.DEVICES_WRITE))]
TelemetryReader = Annotated[Principal, Depends(require(Scope.TELEMETRY_READ))]
AlarmReader = Annotated[Principal, Depends(require(Scope.ALARMS_READ))]
AlarmWriter = Annotated[Principal, Depends(require(Scope.ALARMS_WRITE))]
KpiReader = Annotated[Principal, Depends(require(Scope.KPIS_READ))]
ParkingCaller = Annotated[Principal, Depends(require_any(Scope.PARKING, Scope.PARKING_MANAGE))]
SupplyCaller = Annotated[Principal, Depends(require_any(Scope.PARKING_OWNER, Scope.PARKING_MANAGE))]
