"""`yiju bench ingest`: the raw ceiling, a naive baseline and Yiju ingest on the same kind of stream.

Every variant gets a fresh stream (its own boot number, so rows of different variants never
meet), a consumer that is subscribed before the first publish, and psutil samples of every
process involved. End to end means first publish to last message decoded (raw) or to the
last row's `ingested_at` (clock_timestamp() at insert, just before commit).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from bench.broker import BrokerProbe, broker_stats, retained_count
from bench.fleet import BenchFleet
from bench.models import BenchResult, Options, VariantResult
from bench.processes import IngestProcess
from bench.publishers import Publishers, PublishJob
from bench.sampler import Resolver, Sampler, fixed, listener_pid, tree
from bench.store import StreamKey, latencies_ms, progress, rejects, verify
from bench.subscribers import Mode, Subscriber, SubscriberJob
from core.broker.client import host_port, purge_sessions
from core.config import Settings
from core.contract.topics import device_topic_filter, subscription

logger = logging.getLogger(__name__)

_STALL_S = 15.0  # no progress this long after publishing ended: the rest is lost


class Consumer(Protocol):
    """What a variant runs against the stream."""

    client_ids: list[str]

    def start(self) -> None: ...
    def pids(self) -> list[int]: ...
    def wait(self, expected: int, stream: StreamKey, timeout_s: float) -> tuple[float, int]: ...
    def notes(self) -> dict[str, float]: ...
    def stop(self) -> None: ...


def _wait_for_rows(
    fleet: BenchFleet, expected: int, stream: StreamKey, timeout_s: float
) -> tuple[float, int]:
    """Poll the stream's row count until all are there (or it stalls); the last row's time."""
    deadline = time.monotonic() + timeout_s
    last_change, last_count = time.monotonic(), -1
    while True:
        count, latest = progress(fleet.conn, stream)
        now = time.monotonic()
        if count != last_count:
            last_change, last_count = now, count
        if count >= expected or now - last_change > _STALL_S or now > deadline:
            return (latest.timestamp() if latest else time.time()), count
        time.sleep(0.25)


class Baseline:
    """A raw or naive subscriber process."""

    def __init__(self, fleet: BenchFleet, mode: Mode) -> None:
        self._fleet = fleet
        name = fleet.client_id(mode)
        # Only the bench community: other engineers' test traffic must not count here.
        topic = f"$share/{name}/{device_topic_filter(fleet.community_id, '+', '+')}"
        self._job = SubscriberJob(mode, fleet.settings, name, topic)
        self.client_ids = [name]
        self._sub: Subscriber | None = None

    def start(self) -> None:
        self._sub = Subscriber(self._job)

    def pids(self) -> list[int]:
        return [self._sub.proc.pid] if self._sub and self._sub.proc.pid else []

    def wait(self, expected: int, stream: StreamKey, timeout_s: float) -> tuple[float, int]:
        assert self._sub is not None
        if self._job.mode == "naive":
            return _wait_for_rows(self._fleet, expected, stream, timeout_s)
        deadline = time.monotonic() + timeout_s
        last_change, last_count = time.monotonic(), -1
        while (count := self._sub.handled) < expected:
            now = time.monotonic()
            if count != last_count:
                last_change, last_count = now, count
            if now - last_change > _STALL_S or now > deadline:
                break
            time.sleep(0.05)
        return self._sub.last_at, count

    def notes(self) -> dict[str, float]:
        return {"failed": self._sub.failed} if self._sub else {}

    def stop(self) -> None:
        if self._sub:
            self._sub.stop()


class Yiju:
    """`python -m ingest --workers N` with the run's own client id and share group."""

    def __init__(self, fleet: BenchFleet, workers: int, tag: str) -> None:
        self._fleet = fleet
        name = fleet.client_id(tag)
        self._proc = IngestProcess(fleet.settings, workers, client_id=name, share_group=name)
        self.client_ids = self._proc.client_ids
        self._since = datetime.now(UTC)

    def start(self) -> None:
        self._proc.start()

    def pids(self) -> list[int]:
        return tree(self._proc.pid)()

    def wait(self, expected: int, stream: StreamKey, timeout_s: float) -> tuple[float, int]:
        return _wait_for_rows(self._fleet, expected, stream, timeout_s)

    def notes(self) -> dict[str, float]:
        metrics = self._proc.metrics()
        found = rejects(self._fleet.conn, community_id=self._fleet.community_id, since=self._since)
        return {
            "workers": float(self._proc.workers),
            "received": metrics.get("yiju_ingest_received_total", 0.0),
            "redelivered": metrics.get("yiju_ingest_duplicates_total", 0.0),
            "rejected": float(found),
            "db_retries": metrics.get("yiju_ingest_db_retries_total", 0.0),
            # Time the writer threads spent in `_commit` (validate, COPY, insert, commit).
            "commit_s": metrics.get("yiju_ingest_batch_seconds_sum", 0.0),
            "batches": metrics.get("yiju_ingest_batch_seconds_count", 0.0),
        }

    def stop(self) -> None:
        self._proc.stop()


def _jobs(
    fleet: BenchFleet, options: Options, messages: int, boot: int, rate: float | None
) -> list[PublishJob]:
    username, password = fleet.publisher
    host, port = host_port(fleet.settings.require_mqtt())
    count = options.publishers
    return [
        PublishJob(
            host=host,
            port=port,
            username=username,
            password=password,
            client_id=fleet.client_id(f"pub{i}"),
            community_id=fleet.community_id,
            devices=tuple(fleet.devices[i::count]),
            messages=messages // count + (i < messages % count),
            boot=boot,
            seed=boot * 1000 + i * 100,
            rate=rate / count if rate else None,
            max_inflight=options.max_inflight,
        )
        for i in range(count)
    ]


def _measure(
    fleet: BenchFleet,
    consumer: Consumer,
    options: Options,
    probe: BrokerProbe,
    *,
    key: str,
    label: str,
    messages: int,
    boot: int,
    rate: float | None = None,
) -> VariantResult:
    """Start the consumer, publish the stream, wait until it is all consumed, and check it."""
    stream = StreamKey(fleet.device_ids, boot, datetime.now(UTC) - timedelta(seconds=5))
    fleet.sessions.extend(consumer.client_ids)
    publisher_pids: list[int] = []
    sampler = Sampler(
        {
            "consumer": consumer.pids,
            "broker": _service(fleet.settings, "broker"),
            "postgres": _service(fleet.settings, "postgres"),
            "publishers": lambda: publisher_pids,
            "bench": fixed([os.getpid()]),
        }
    )
    sampler.start()
    publishers = None
    try:
        publishers = Publishers(_jobs(fleet, options, messages, boot, rate))
        publisher_pids.extend(publishers.pids)
        consumer.start()
        publishers.go()
        results = publishers.results(timeout=max(120.0, messages / 1000))
        counts = {device: n for r in results for device, n in r.counts.items()}
        started = min(r.started_at for r in results)
        acked = max(r.acked_at for r in results)
        expected = sum(counts.values())
        finished, stored = consumer.wait(expected, stream, options.drain_timeout_s)
        notes = consumer.notes() | {
            "refused": float(sum(r.refused for r in results)),
            "broker_stall_ms": 1000 * probe.max_round_trip_s(started, finished),
        }
        if key == "raw":
            lost, duplicates = max(0, expected - stored), max(0, stored - expected)
        else:
            checked = verify(fleet.conn, stream, counts)
            lost, duplicates = checked.lost, checked.duplicates
            notes["unexpected"] = float(checked.unexpected)
        latencies = latencies_ms(fleet.conn, stream) if key == "latency" else []
    finally:
        consumer.stop()
        if publishers:
            publishers.stop()
        sampler.stop()
        purge_sessions(fleet.settings.require_mqtt(), consumer.client_ids)
    peak, total = sampler.peak_rss_mb("consumer")
    result = VariantResult(
        key, label, expected, started, acked, finished, stored, lost, duplicates,
        sampler.profile(started, finished), peak, total, latencies, notes,
    )  # fmt: skip
    logger.info(
        "%s: %d messages, %.0f msg/s end to end (published at %.0f msg/s), lost %d, duplicated %d",
        label, expected, result.msgs_per_s, result.publish_per_s, lost, duplicates,
    )  # fmt: skip
    return result


def _service(settings: Settings, which: str) -> Resolver:
    """Our broker's or database's processes, found by the port they listen on."""
    if which == "broker":
        port = host_port(settings.require_mqtt())[1]
    else:
        port = urlsplit(settings.database_url).port or 5432
    pid = listener_pid(port)
    if pid is None:
        logger.warning("no process listens on port %d (%s): its CPU is not sampled", port, which)
    return tree(pid)


def run(settings: Settings, options: Options) -> BenchResult:
    """Run every variant in a fresh community; everything is removed again, also on Ctrl-C."""
    variants: dict[str, VariantResult] = {}
    before = broker_stats(settings.require_mqtt_admin())
    before["retained"] = retained_count(settings.require_mqtt(), subscription())
    if before.get("offline_sessions"):
        logger.warning(
            "%d offline persistent sessions on the broker: those subscribed to community/# will keep"
            " a copy of every message of this run",
            before["offline_sessions"],
        )
    probe = BrokerProbe(settings.require_mqtt_admin())
    probe.start()
    with contextlib.ExitStack() as stack:
        stack.callback(probe.stop)
        fleet = stack.enter_context(BenchFleet(settings, secrets.token_hex(3), devices=options.devices))
        boot = 0

        def measure(
            consumer: Consumer, key: str, label: str, messages: int, rate: float | None = None
        ) -> None:
            nonlocal boot
            boot += 1
            variants[key] = _measure(
                fleet, consumer, options, probe, key=key, label=label, messages=messages, boot=boot, rate=rate
            )

        measure(Baseline(fleet, "raw"), "raw", "raw paho + JSON", options.messages)
        measure(Baseline(fleet, "naive"), "naive", "naive INSERT", options.naive_messages)
        for n in options.workers:
            measure(
                Yiju(fleet, n, f"w{n}"),
                f"yiju-{n}",
                f"Yiju {n} worker{'s' * (n > 1)}",
                options.messages,
            )
        best = BenchResult(options, variants).best_workers
        latency_messages = int(options.latency_rate * options.latency_seconds)
        label = f"Yiju {best}w @ {options.latency_rate:,.0f}/s"
        measure(Yiju(fleet, best, f"lat{best}"), "latency", label, latency_messages, options.latency_rate)
        after = broker_stats(settings.require_mqtt_admin())
    return BenchResult(options, variants, {"before": before, "after": after})
