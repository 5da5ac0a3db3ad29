"""Real Yiju processes started by tests, with kill -9 and restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from bench.processes import ROOT
from bench.processes import IngestProcess as BenchIngest
from core.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    """Poll until `predicate()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class IngestProcess(BenchIngest):
    """`python -m ingest` for tests: the benchmark's launcher plus health, readiness and kill -9."""

    def __init__(self, settings: Settings, workers: int = 1) -> None:
        super().__init__(
            settings, workers, client_id=settings.ingest_client_id, share_group=settings.ingest_share_group
        )
        self.log = ROOT / ".local" / "log" / f"test-ingest-{self.port}.log"

    def health(self) -> dict[str, object]:
        """Worker 0's /healthz (answered with 503 while the worker is not subscribed)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as resp:
                return dict(json.load(resp))
        except urllib.error.HTTPError as error:
            if error.code != 503:
                raise
            return dict(json.load(error))

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"ingest exited with {self.proc.returncode}; see {self.log}")
        return self.subscribed()

    def kill9(self) -> None:
        """SIGKILL the whole process group: no drain, no goodbye."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
