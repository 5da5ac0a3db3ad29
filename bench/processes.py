"""`python -m ingest --workers N` as a real child process, as it runs in production."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from core.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def free_ports(count: int) -> int:
    """The first of `count` consecutive free local ports (workers serve metrics on port + index)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            first = int(sock.getsockname()[1])
        if first + count > 65_535:
            continue
        try:
            for port in range(first + 1, first + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError(f"no {count} consecutive free ports")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (our own local endpoint)
        return bytes(resp.read())


class IngestProcess:
    """Yiju ingest with its own client id and share group; ready when every worker is subscribed."""

    def __init__(self, settings: Settings, workers: int, *, client_id: str, share_group: str) -> None:
        self.workers = workers
        self.port = free_ports(workers)
        self.client_ids = [f"{client_id}-{i}" for i in range(workers)]
        # The shortest session expiry: if the bench dies, its sessions stop queueing within a minute.
        self._env = settings.to_env(
            ingest_client_id=client_id,
            ingest_share_group=share_group,
            ingest_metrics_port=self.port,
            ingest_session_expiry_s=60,
        )
        self.log = ROOT / ".local" / "log" / f"bench-{client_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout_s: float = 60) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ingest", "--workers", str(self.workers)],
                cwd=ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while not self.subscribed():
            if self.proc.poll() is not None:
                raise RuntimeError(f"ingest exited with {self.proc.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"ingest workers did not subscribe within {timeout_s:.0f}s; see {self.log}"
                )
            time.sleep(0.1)

    def subscribed(self) -> bool:
        """Whether every worker reports its subscription on /healthz."""
        try:
            return all(
                json.loads(_get(f"http://127.0.0.1:{self.port + i}/healthz")).get("subscribed") is True
                for i in range(self.workers)
            )
        except (OSError, ValueError):
            return False

    def metrics(self) -> dict[str, float]:
        """Prometheus counters summed over the workers and over labels, by metric name."""
        totals: dict[str, float] = {}
        for i in range(self.workers):
            text = _get(f"http://127.0.0.1:{self.port + i}/metrics").decode()
            for line in text.splitlines():
                if not line.startswith("yiju_"):
                    continue
                name, _, value = line.rpartition(" ")
                name = name.split("{", 1)[0]
                totals[name] = totals.get(name, 0.0) + float(value)
        return totals

    def stop(self, timeout_s: float = 60) -> int | None:
        """SIGTERM (the workers drain and exit); SIGKILL the group if that takes too long.

        Returns the exit code (None when never started).
        """
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)


def run_load(module: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run a load generator (`python -m <module>`, spec as JSON on stdin) in its own process, so
    that it shares no interpreter with what it measures; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", module],
        input=json.dumps(spec).encode(),
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    return dict(json.loads(done.stdout))
