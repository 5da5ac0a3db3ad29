"""Publisher processes: pre-built mixed-kind streams, QoS 1, every PUBACK awaited.

Payloads are built before the clock starts; at publish time only `ts` is stamped in (the
publish time, so rows can be timed from publish to commit). Each publisher keeps at most
`max_inflight` messages unacknowledged itself: letting paho queue the rest makes every
PUBACK scan its whole queue.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from core.contract.codec import encode
from core.contract.topics import Channel, Kind, device_topic
from simulators.messages import MessageFactory

_PLACEHOLDER = datetime(2000, 1, 1, tzinfo=UTC)
_PLACEHOLDER_TEXT = b"2000-01-01T00:00:00Z"
_STATUS_EVERY = 100  # one status message in a hundred, beside telemetry and events
_EVENT_SHARE = 0.1


@dataclass(frozen=True)
class PublishJob:
    """One publisher process's share of a stream."""

    host: str
    port: int
    username: str
    password: str
    client_id: str
    community_id: str
    devices: tuple[tuple[str, Kind], ...]
    messages: int
    boot: int
    seed: int
    rate: float | None = None  # messages/s of this process; None: as fast as the broker acks
    max_inflight: int = 1000


@dataclass(frozen=True)
class PublishResult:
    """What one publisher sent: each device's seq 1..n, and when."""

    counts: dict[str, int]
    started_at: float  # unix time of the first publish
    acked_at: float  # unix time of the last PUBACK
    refused: int  # PUBACKs with a failure reason code


class _Stamp:
    """The current time as RFC 3339 bytes, formatting the seconds part once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = b""

    def __call__(self) -> bytes:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode()
        return b"%s.%06dZ" % (self._prefix, int((now - second) * 1e6))


def build_stream(job: PublishJob) -> tuple[list[tuple[str, bytes, bytes]], dict[str, int]]:
    """(topic, payload before ts, payload after ts) per message, round robin over the devices."""
    factories = [
        (device_id, kind, MessageFactory(kind, seed=job.seed + i, boot=job.boot))
        for i, (device_id, kind) in enumerate(job.devices)
    ]
    stream = []
    for n in range(job.messages):
        device_id, kind, factory = factories[n % len(factories)]
        if n % _STATUS_EVERY == _STATUS_EVERY - 1:
            channel, payload = Channel.STATUS, encode(factory.status(ts=_PLACEHOLDER))
        else:
            channel, payload = factory.mixed(ts=_PLACEHOLDER, event_share=_EVENT_SHARE)
        head, found, tail = payload.partition(_PLACEHOLDER_TEXT)
        if not found:
            raise ValueError(f"no ts placeholder in {payload[:200]!r}")
        stream.append((device_topic(job.community_id, kind, device_id, channel), head, tail))
    return stream, {device_id: factory.seq for device_id, _, factory in factories}


class _Link:
    """The publisher's paho client, driven from one thread; a lost connection raises."""

    def __init__(self, job: PublishJob) -> None:
        self.acked = self.refused = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=job.client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(job.username, job.password)
        self.client.max_inflight_messages_set(job.max_inflight)
        self.client.on_publish = self._on_publish
        self.client.connect(job.host, job.port, keepalive=60)
        deadline = time.monotonic() + 10
        while not self.client.is_connected():
            if time.monotonic() > deadline:
                raise ConnectionError(f"no CONNACK from {job.host}:{job.port} as {job.username}")
            self.loop(0.1)

    def _on_publish(
        self, _c: mqtt.Client, _u: object, _mid: int, reason: mqtt.ReasonCode, _p: object
    ) -> None:
        self.acked += 1
        self.refused += reason.is_failure

    def loop(self, timeout: float) -> None:
        rc = self.client.loop(timeout=timeout)
        if rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN):
            raise ConnectionError(f"connection to the broker lost ({mqtt.error_string(rc)})")


def _publish(job: PublishJob, pipe: Connection) -> None:
    """Process body: build, connect, say ready, wait for go, publish, wait for every PUBACK."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us and cleans up
    try:
        stream, counts = build_stream(job)
        link = _Link(job)
        pipe.send("ready")
        pipe.recv()  # go
        started, acked_at = _send(job, link, stream)
        link.client.disconnect()
        pipe.send(PublishResult(counts, started, acked_at, link.refused + len(stream) - link.acked))
    except (ConnectionError, OSError) as error:
        pipe.send(f"{job.client_id}: {error}")


def _send(job: PublishJob, link: _Link, stream: list[tuple[str, bytes, bytes]]) -> tuple[float, float]:
    """Publish the stream (at `job.rate` if set); the first publish and the last PUBACK times."""
    stamp, publish = _Stamp(), link.client.publish
    started = time.time()
    for sent, (topic, head, tail) in enumerate(stream):
        if job.rate is not None:
            due = started + sent / job.rate
            while (wait := due - time.time()) > 0:
                link.loop(wait)
        while sent - link.acked >= job.max_inflight:
            link.loop(0.05)
        publish(topic, head + stamp() + tail, qos=1)
        if sent % 64 == 63:
            link.loop(0)
    deadline = time.monotonic() + 120
    while link.acked < len(stream) and time.monotonic() < deadline:
        link.loop(0.05)
    return started, time.time()


class Publishers:
    """Publisher processes started and connected, waiting for `go()`."""

    def __init__(self, jobs: list[PublishJob]) -> None:
        ctx = mp.get_context("spawn")
        self._pipes: list[Connection] = []
        self.procs: list[mp.context.SpawnProcess] = []
        for job in jobs:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_publish, args=(job, child), name=job.client_id, daemon=True)
            proc.start()
            self._pipes.append(parent)
            self.procs.append(proc)
        for pipe, proc in zip(self._pipes, self.procs, strict=True):
            answer = pipe.recv() if pipe.poll(120) else "no answer in 120 s"
            if answer != "ready":
                raise RuntimeError(f"publisher {proc.name} did not get ready: {answer}")

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def go(self) -> None:
        for pipe in self._pipes:
            pipe.send("go")

    def results(self, timeout: float) -> list[PublishResult]:
        """Wait for every publisher to have its messages acknowledged."""
        results = []
        for pipe, proc in zip(self._pipes, self.procs, strict=True):
            if not pipe.poll(timeout):
                raise TimeoutError(f"publisher {proc.name} did not finish in {timeout:.0f}s")
            result = pipe.recv()
            if not isinstance(result, PublishResult):
                raise RuntimeError(f"publisher failed: {result}")
            results.append(result)
        for proc in self.procs:
            proc.join(10)
        return results

    def stop(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
