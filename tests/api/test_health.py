"""Health, readiness, metrics, and the OpenAPI document with its examples and Swagger UI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app
from core.config import Settings
from tests.api.conftest import Tenants


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readiness_fails_when_the_database_is_gone(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        app.state.pool.close()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] != "ok"


def test_metrics_count_requests_by_route(client: TestClient, tenants: Tenants) -> None:
    client.get("/v1/communities", headers=tenants.admin)
    text = client.get("/metrics").text
    assert 'http_requests_total{handler="/v1/communities",method="GET",status="2xx"}' in text


def test_openapi_documents_security_errors_and_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/v1"):
                assert {"401", "403", "404", "422", "429"} <= set(operation["responses"]), (method, path)
                assert operation.get("security"), (method, path)
    schemas = spec["components"]["schemas"]
    assert schemas["CommunityIn"]["properties"]["name"]["examples"] == ["学院街小区"]
    assert schemas["ErrorBody"]["properties"]["code"]["examples"] == ["not_found"]
    assert "swagger-ui" in client.get("/docs").text


def test_cors_only_for_configured_origins(settings: Settings) -> None:
    allowed = settings.model_copy(update={"api_cors_origins": "https://ops.example.cn"})
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    with TestClient(create_app(allowed)) as client:
        ok = client.options("/v1/communities", headers={"Origin": "https://ops.example.cn", **preflight})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://ops.example.cn"
        other = client.options("/v1/communities", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
    with TestClient(create_app(settings)) as client:
        closed = client.get("/healthz", headers={"Origin": "https://ops.example.cn"})
        assert "access-control-allow-origin" not in closed.headers
