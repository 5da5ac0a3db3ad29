"""`yiju api` as it runs in production: uvicorn in its own process, behind a trusted proxy."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bench.processes import ROOT
from core.config import Settings
from tests.api.conftest import Tenants
from tests.api.helpers import unique
from tests.processes import free_port, wait_until


def _call(url: str, method: str = "GET", body: object = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (http://127.0.0.1 only)
        return json.load(response)


def _up(url: str) -> bool:
    try:
        return bool(_call(f"{url}/healthz")["status"] == "ok")
    except OSError:
        return False


@pytest.fixture
def served(api_settings: Settings) -> Iterator[str]:
    """`python -m yiju api` on a free port; SIGTERM must shut it down cleanly."""
    port = free_port()
    env = api_settings.to_env(api_port=port)
    proc = subprocess.Popen([sys.executable, "-m", "yiju", "api"], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is None and _up(url), timeout=60, what="yiju api to answer")
        yield url
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        # uvicorn shuts down (lifespan: pool and broker session closed), then re-raises SIGTERM.
        assert proc.returncode in (0, -15) and b"Application shutdown complete" in err, err[-2000:]


def test_served_api_is_ready_and_records_the_forwarded_client_address(served: str, tenants: Tenants) -> None:
    assert _call(f"{served}/readyz")["checks"] == {"database": "ok", "broker": "ok"}
    building = unique("bld")
    body = {"id": building, "community_id": tenants.community_a, "name": "9栋", "floors": 6}
    # The test runs on 127.0.0.1, the proxy YIJU_API_FORWARDED_ALLOW_IPS trusts by default.
    _call(f"{served}/v1/buildings", "POST", body, {**tenants.admin, "X-Forwarded-For": "198.51.100.23"})
    audit = _call(f"{served}/v1/audit?target=building:{building}", headers=tenants.admin)["items"]
    assert [(e["action"], e["client_addr"]) for e in audit] == [("building.create", "198.51.100.23")]


def _healthz_count(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310 (http://127.0.0.1 only)
        text = response.read().decode()
    line = 'http_requests_total{handler="/healthz",method="GET",status="2xx"}'
    return sum(float(row.split()[-1]) for row in text.splitlines() if row.startswith(line))


def test_metrics_count_the_requests_of_every_worker(api_settings: Settings) -> None:
    port = free_port()
    env = api_settings.to_env(api_port=port, api_workers=2)
    command = [sys.executable, "-m", "yiju", "api"]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is None and _up(url), timeout=60, what="yiju api to answer")
        before = _healthz_count(url)
        for _ in range(40):  # a connection each: the two workers take turns at accepting them
            assert _up(url)
        # each scrape, whichever worker answers it, counts all 40 (one worker alone has part of them)
        assert [_healthz_count(url) - before for _ in range(6)] == [40.0] * 6
    finally:
        proc.terminate()
        proc.wait(timeout=30)
