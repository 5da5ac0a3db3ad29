"""The two baselines, each in its own process on the ingest account's credentials.

raw:   a paho subscriber that only JSON-decodes each message (the ceiling of a Python consumer);
naive: a paho subscriber that validates and INSERTs each message on its own, in autocommit.
Both keep a persistent v5 session (QoS 1, acknowledged by paho when the callback returns, so
the naive one acknowledges after its commit) on a shared subscription, as ingest does.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import time
from ctypes import c_double, c_longlong
from dataclasses import dataclass
from typing import Literal

import msgspec
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from bench import store
from core.broker.client import host_port, make_client
from core.config import Settings
from core.contract.codec import ContractError, decode
from core.db.tables import DEVICE_TABLES

logger = logging.getLogger(__name__)

Mode = Literal["raw", "naive"]
SESSION_EXPIRY_S = 60  # if the bench dies, its sessions stop queueing within a minute


@dataclass(frozen=True)
class SubscriberJob:
    """Which baseline to run, as which client, on which filter."""

    mode: Mode
    settings: Settings
    client_id: str
    topic: str


class _Counters:
    """Shared with the parent: messages handled, the last one's unix time, failures."""

    def __init__(self, ctx: mp.context.SpawnContext) -> None:
        self.handled = ctx.RawValue(c_longlong, 0)
        self.last_at = ctx.RawValue(c_double, 0.0)
        self.failed = ctx.RawValue(c_longlong, 0)


def _handler(job: SubscriberJob, counters: _Counters) -> mqtt.CallbackOnMessage:
    handled, last_at, failed = counters.handled, counters.last_at, counters.failed
    if job.mode == "raw":
        json_decode = msgspec.json.decode

        def on_raw(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            try:
                json_decode(msg.payload)
            except msgspec.DecodeError:
                failed.value += 1
            handled.value += 1
            last_at.value = time.time()

        return on_raw

    conn = psycopg.connect(job.settings.database_url, autocommit=True, application_name="yiju-bench-naive")
    statements = store.insert_statements()

    def on_naive(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            topic, payload = decode(msg.topic, bytes(msg.payload))
            table = DEVICE_TABLES[(topic.kind, topic.channel)]
            conn.execute(statements[table.name], table.row(topic.device_id, payload), prepare=True)
        except (ContractError, psycopg.Error) as error:
            logger.warning("naive baseline could not store a message on %s: %s", msg.topic, error)
            failed.value += 1
        handled.value += 1
        last_at.value = time.time()

    return on_naive


def _subscribe(
    job: SubscriberJob, counters: _Counters, ready: mp.synchronize.Event, stop: mp.synchronize.Event
) -> None:
    """Process body: connect, subscribe, say ready, consume until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us and cleans up
    url = job.settings.require_mqtt()
    client = make_client(url, job.client_id)
    client.on_message = _handler(job, counters)
    client.on_connect = lambda c, *_: c.subscribe(job.topic, qos=1)

    def on_subscribe(_c: mqtt.Client, _u: object, _m: int, reasons: list[ReasonCode], _p: object) -> None:
        if any(r.is_failure for r in reasons):
            logger.error("broker refused the subscription to %s: %s", job.topic, reasons)
        else:
            ready.set()

    client.on_subscribe = on_subscribe
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = SESSION_EXPIRY_S
    host, port = host_port(url)
    client.connect(host, port, keepalive=60, clean_start=False, properties=properties)
    client.loop_start()
    stop.wait()
    client.disconnect()
    client.loop_stop()


class Subscriber:
    """A baseline subscriber process, subscribed once the constructor returns."""

    def __init__(self, job: SubscriberJob) -> None:
        ctx = mp.get_context("spawn")
        self.counters = _Counters(ctx)
        self._stop = ctx.Event()
        ready = ctx.Event()
        self.proc = ctx.Process(
            target=_subscribe,
            args=(job, self.counters, ready, self._stop),
            name=f"bench-{job.mode}",
            daemon=True,  # ended with the bench, however it ends
        )
        self.proc.start()
        if not ready.wait(30):
            self.stop()
            raise RuntimeError(f"{job.mode} subscriber did not subscribe to {job.topic}")

    @property
    def handled(self) -> int:
        return self.counters.handled.value

    @property
    def last_at(self) -> float:
        return self.counters.last_at.value

    @property
    def failed(self) -> int:
        return self.counters.failed.value

    def stop(self) -> None:
        self._stop.set()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
