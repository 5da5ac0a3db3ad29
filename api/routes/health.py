"""Liveness, readiness (database and broker) for orchestrators; no authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import BrokerDep, PoolDep
from api.models import Health
from api.routing import StrictQueryRoute

router = APIRouter(route_class=StrictQueryRoute, tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process answers."""
    return Health(status="ok", checks={})


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request, pool: PoolDep, broker: BrokerDep) -> JSONResponse:
    """The database answers and, when provisioning is configured, the broker session is up."""
    checks = {"database": "ok"}
    try:
        with pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception as error:  # any failure means "not ready"; the reason is reported
        checks["database"] = type(error).__name__
    if request.app.state.settings.mqtt_admin_url is not None:
        checks["broker"] = "ok" if broker is not None and broker.connected else "disconnected"
    ok = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
