"""`yiju bench api`'s load from wrk, when it is installed: a C load generator takes a few percent
of a core where the Python one (bench/api_load.py) takes a good share of one, on the two cores
it shares with the API and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("api_wrk.lua")


def available() -> bool:
    return shutil.which("wrk") is not None


def run(spec: dict[str, Any], quantiles: tuple[float, ...]) -> dict[str, Any]:
    """Hit the paths with `clients` keep-alive connections for `seconds` (spec as for api_load):
    requests, elapsed_s, errors (not 2xx, or no answer) and latency at `quantiles` (percent)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as paths:
        paths.write("\n".join(spec["paths"]) + "\n")
        paths.flush()
        clients = int(spec["clients"])
        done = subprocess.run(
            [
                "wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{float(spec['seconds']):.0f}s",
                "--timeout", "30s", "-s", str(SCRIPT), str(spec["base_url"]),
            ],
            env={
                **os.environ,
                "YIJU_BENCH_PATHS": paths.name,
                "YIJU_BENCH_KEYS": ",".join(spec["keys"]),
                "YIJU_BENCH_QUANTILES": ",".join(map(str, quantiles)),
            },
            capture_output=True,
            text=True,
            check=True,
        )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "requests": int(figures["requests"]),
        "errors": int(figures["non_2xx"]) + int(figures["socket_errors"]),
        "elapsed_s": float(figures["elapsed_s"]),
        "percentiles_ms": {float(q): float(v) for q, v in figures["percentiles_ms"].items()},
    }
