"""The load generator of `yiju bench api`, run as its own process: N client threads, keep-alive HTTP.

Reads a JSON spec on stdin ({base_url, keys, clients, seconds, paths}), writes JSON on stdout
({latencies_ms, statuses, elapsed_s}). Each thread walks the path list from its own offset, with
its own key (client i uses keys[i % len(keys)]).
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def _client(
    spec: dict[str, object],
    index: int,
    offset: int,
    deadline: float,
    out: list[float],
    statuses: Counter[int],
) -> None:
    url = urlsplit(str(spec["base_url"]))
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=30)
    keys: list[str] = spec["keys"]  # type: ignore[assignment]
    headers = {"Authorization": f"Bearer {keys[index % len(keys)]}"}
    paths: list[str] = spec["paths"]  # type: ignore[assignment]
    i = offset
    while time.perf_counter() < deadline:
        path = paths[i % len(paths)]
        i += 1
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            status = 0
        out.append((time.perf_counter() - started) * 1000)
        statuses[status] += 1
    conn.close()


def run(spec: dict[str, object]) -> dict[str, object]:
    """Hit the paths with `clients` concurrent connections for `seconds`."""
    clients = int(spec["clients"])  # type: ignore[call-overload]
    deadline = time.perf_counter() + float(spec["seconds"])  # type: ignore[arg-type]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: list[Counter[int]] = [Counter() for _ in range(clients)]
    step = max(1, len(spec["paths"]) // clients)  # type: ignore[arg-type]
    threads = [
        threading.Thread(
            target=_client, args=(spec, i, i * step, deadline, latencies[i], statuses[i]), daemon=True
        )
        for i in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    total: Counter[int] = sum(statuses, Counter())
    return {
        "latencies_ms": [x for chunk in latencies for x in chunk],
        "statuses": {str(k): v for k, v in total.items()},
        "elapsed_s": elapsed,
    }


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
