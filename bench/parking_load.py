"""The load generator of the parking API benchmark, run as its own process: N client threads,
keep-alive HTTP, each POSTing booking requests with a fresh Idempotency-Key.

Reads a JSON spec on stdin ({base_url, key, clients, seconds, communities, day0, run}, optionally
`rate`), writes JSON on stdout ({latencies_ms, latencies_by_status, statuses, elapsed_s}); 409 (a
refusal with a reason) is an answer too.

Without `rate` the loop is closed: each client sends its next request when the last is answered.
With `rate` (requests a second, all clients together) it is open: request k is due at start +
k / rate, the next free client sends it, and its latency counts from when it was due, so time
spent waiting for a free client counts too (no coordinated omission).
"""

from __future__ import annotations

import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit


def _body(rng: random.Random, spec: dict[str, Any]) -> bytes:
    day0 = datetime.fromisoformat(spec["day0"])
    arrival = day0 + timedelta(
        days=rng.randint(1, 6), hours=rng.randint(6, 20), minutes=5 * rng.randrange(12)
    )
    departure = arrival + timedelta(minutes=rng.choice((60, 90, 120, 180, 240)))
    body = {
        "community_id": rng.choice(spec["communities"]),
        "arrival": arrival.isoformat(),
        "departure": departure.isoformat(),
        "plate_hash": f"{rng.getrandbits(128):032x}",
        "ev": rng.random() < 0.1,
        "energy_kwh": 10.0 if rng.random() < 0.05 else 0.0,
    }
    return json.dumps(body).encode()


class _Schedule:
    """When each request of an open loop is due (None: closed loop, send at once)."""

    def __init__(self, rate: float | None, start: float) -> None:
        self.rate, self.start, self.sent = rate, start, 0
        self.lock = threading.Lock()

    def next_due(self) -> float:
        if self.rate is None:
            return time.perf_counter()
        with self.lock:
            k, self.sent = self.sent, self.sent + 1
        return self.start + k / self.rate


def _client(
    spec: dict[str, Any],
    index: int,
    deadline: float,
    schedule: _Schedule,
    out: list[tuple[int, float]],
    statuses: Counter[int],
) -> None:
    url = urlsplit(str(spec["base_url"]))
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=30)
    rng = random.Random(index)
    n = 0
    while (due := schedule.next_due()) < deadline:
        time.sleep(max(0.0, due - time.perf_counter()))
        n += 1
        headers = {
            "Authorization": f"Bearer {spec['key']}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"bench-{spec['run']}-{index}-{n}",
        }
        body = _body(rng, spec)
        started = min(due, time.perf_counter())
        try:
            conn.request("POST", "/v1/parking/bookings", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            status = 0
        out.append((status, (time.perf_counter() - started) * 1000))
        statuses[status] += 1
    conn.close()


def run(spec: dict[str, Any]) -> dict[str, object]:
    """Book with `clients` concurrent connections for `seconds` (at `rate` a second, if given)."""
    clients = int(spec["clients"])
    started = time.perf_counter()
    deadline = started + float(spec["seconds"])
    rate = spec.get("rate")
    schedule = _Schedule(None if rate is None else float(rate), started)
    latencies: list[list[tuple[int, float]]] = [[] for _ in range(clients)]
    statuses: list[Counter[int]] = [Counter() for _ in range(clients)]
    threads = [
        threading.Thread(
            target=_client, args=(spec, i, deadline, schedule, latencies[i], statuses[i]), daemon=True
        )
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total: Counter[int] = sum(statuses, Counter())
    return {
        "latencies_ms": [ms for chunk in latencies for _, ms in chunk],
        "latencies_by_status": {
            str(s): [ms for chunk in latencies for status, ms in chunk if status == s] for s in total
        },
        "statuses": {str(k): v for k, v in total.items()},
        "elapsed_s": time.perf_counter() - started,
    }


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
