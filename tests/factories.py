"""Test data built through the real registry and broker: communities, devices, messages."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from psycopg import sql

from core.broker import dynsec
from core.broker.client import host_port, make_client
from core.config import Settings
from core.contract.topics import Channel, Kind, device_topic
from core.db.tables import DEVICE_TABLES
from core.registry import service as registry
from simulators.messages import MessageFactory


@dataclass
class Device:
    """A registered device and its broker password."""

    id: str
    kind: Kind
    community_id: str
    password: str
    messages: MessageFactory = field(repr=False)

    def topic(self, channel: Channel | str) -> str:
        return device_topic(self.community_id, self.kind, self.id, channel)


class Fleet:
    """Registers devices in a fresh community; on exit removes their data and accounts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.community_id = f"c-{secrets.token_hex(4)}"
        self.devices: list[Device] = []
        self._broker = dynsec.connect(settings.require_mqtt_admin())
        self.broker = self._broker.__enter__()
        with self._connect() as conn:
            registry.add_community(
                conn, id=self.community_id, name="测试小区", district="西陵区", lat=30.7, lon=111.3
            )

    def _connect(self) -> psycopg.Connection:
        """A new connection each time, so a test may restart the database in between."""
        return psycopg.connect(self.settings.database_url, autocommit=True)

    @staticmethod
    def new_id(kind: Kind) -> str:
        return f"{kind.value.replace('_', '-')}-{secrets.token_hex(4)}"

    def add(self, kind: Kind, n: int = 1, *, seed: int = 0, device_id: str | None = None) -> list[Device]:
        """Register `n` new devices of a kind, or the one `device_id`, each with its broker account."""
        made = []
        for new in [device_id] if device_id else [self.new_id(kind) for _ in range(n)]:
            with self._connect() as conn:
                creds = registry.add_device(
                    conn, self.broker, id=new, community_id=self.community_id, kind=kind
                )
            assert creds is not None
            made.append(Device(new, kind, self.community_id, creds.password, MessageFactory(kind, seed=seed)))
        self.devices += made
        return made

    def count_rows(self, table: str, device_ids: Iterable[str] | None = None) -> int:
        ids = list(device_ids) if device_ids is not None else [d.id for d in self.devices]
        query = sql.SQL("SELECT count(*) FROM {} WHERE device_id = ANY(%s)").format(sql.Identifier(table))
        with self._connect() as conn:
            row = conn.execute(query, (ids,)).fetchone()
        return int(row[0]) if row else 0

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | None) -> None:
        ids = [d.id for d in self.devices]
        with self._connect() as conn:
            for table in sorted({t.name for t in DEVICE_TABLES.values()}):
                delete = sql.SQL("DELETE FROM {} WHERE device_id = ANY(%s)").format(sql.Identifier(table))
                conn.execute(delete, (ids,))
            prefix = f"community/{self.community_id}/%"
            conn.execute("DELETE FROM ingest_rejects WHERE topic LIKE %s", (prefix,))
            conn.execute("DELETE FROM anomalies WHERE community_id = %s", (self.community_id,))
            conn.execute("DELETE FROM devices WHERE community_id = %s", (self.community_id,))
            conn.execute("DELETE FROM communities WHERE id = %s", (self.community_id,))
        self.broker.remove_devices(ids)
        self._broker.__exit__(None, None, None)


class Publisher:
    """One device's MQTT connection; `publish_all` returns once the broker acknowledged each message."""

    def __init__(
        self,
        settings: Settings,
        username: str,
        password: str,
        client_id: str = "",
        *,
        persistent: bool = False,
    ) -> None:
        url = settings.require_mqtt()
        self.client = make_client(url, client_id or f"pub-{secrets.token_hex(4)}")
        self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(1, 2)
        self._acked: dict[int, object] = {}
        self._pending: set[int] = set()  # what `publish_all` still waits for
        self._cond = threading.Condition()
        self.client.on_publish = self._on_publish
        connected = threading.Event()
        self.refused: object | None = None

        def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
            if getattr(reason, "is_failure", False):
                self.refused = reason
            connected.set()

        self.client.on_connect = on_connect
        host, port = host_port(url)
        props = None
        if persistent:  # the broker keeps our in-flight messages across its own restart
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 600
        self.client.connect(host, port, clean_start=not persistent, properties=props)
        self.client.loop_start()
        if not connected.wait(10):
            raise TimeoutError("no CONNACK from broker")

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, reason: object, _p: object) -> None:
        with self._cond:
            self._acked[mid] = reason
            self._pending.discard(mid)
            if not self._pending:
                self._cond.notify_all()

    def publish_all(
        self, messages: Iterable[tuple[str, bytes]], qos: int = 1, timeout: float = 60
    ) -> list[object]:
        """Publish and wait for every PUBACK; returns the reason codes."""
        infos = [self.client.publish(topic, payload, qos=qos) for topic, payload in messages]
        mids = [i.mid for i in infos]
        with self._cond:
            # wakes once, when the last one is acknowledged (checking every mid on every PUBACK
            # made 50,000 messages cost seconds of CPU in this thread alone)
            self._pending = set(mids) - self._acked.keys()
            if not self._cond.wait_for(lambda: not self._pending, timeout):
                raise TimeoutError("broker did not acknowledge every message")
            return [self._acked.pop(m) for m in mids]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
