"""Prometheus metrics and the health endpoint of an ingest worker."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app

logger = logging.getLogger(__name__)

RECEIVED = Counter("yiju_ingest_received", "Messages received from the broker")
WRITTEN = Counter("yiju_ingest_rows_written", "Rows committed, by table", ["table"])
DUPLICATES = Counter("yiju_ingest_duplicates", "Redelivered messages absorbed without a new row")
REJECTED = Counter("yiju_ingest_rejected", "Messages stored in ingest_rejects, by reason", ["reason"])
BATCH_SECONDS = Histogram(
    "yiju_ingest_batch_seconds",
    "Time to validate and commit one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH_SIZE = Histogram(
    "yiju_ingest_batch_size",
    "Messages per batch",
    buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000),
)
LAG = Gauge("yiju_ingest_lag_seconds", "Oldest message of the last batch: receipt to commit")
PENDING = Gauge("yiju_ingest_pending", "Messages received but not yet committed and acknowledged")
DB_RETRIES = Counter("yiju_ingest_db_retries", "Batch writes retried after a database error")
SESSIONS_LOST = Counter(
    "yiju_ingest_sessions_lost", "Reconnections to a broker that no longer held the worker's session"
)
BROKER_CONNECTED = Gauge("yiju_ingest_broker_connected", "1 while connected to the broker")
LAST_COMMIT = Gauge("yiju_ingest_last_commit_timestamp_seconds", "Unix time of the last commit")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http %s", format % args)


def serve(host: str, port: int, health: Callable[[], dict[str, Any]]) -> WSGIServer:
    """Serve /metrics and /healthz on host:port in a daemon thread."""
    metrics_app = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            report = health()
            status = "200 OK" if report["status"] == "ok" else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(report).encode()]
        return metrics_app(environ, start_response)

    server = make_server(host, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="yiju-metrics", daemon=True).start()
    return server


def seconds_since(unix_time: float) -> float:
    return max(0.0, time.time() - unix_time)
