"""What the broker holds, read from its $SYS topics with the admin account.

Offline persistent sessions subscribed to `community/#` (left by earlier ingest runs or tests)
queue every message a benchmark publishes; the benchmark cannot remove those copies, so it
reports how much the broker's store grew. The timeout is generous: while Mosquitto saves a
large store to disk it answers nobody.
"""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
from pydantic import AnyUrl

from core.broker.client import host_port, make_client

PROBE_TOPIC = "yiju/bench/probe"
_TOPICS = {
    "$SYS/broker/clients/disconnected": "offline_sessions",
    "$SYS/broker/store/messages/count": "stored_messages",
}


def broker_stats(admin_url: AnyUrl, timeout_s: float = 10.0) -> dict[str, int]:
    """Offline persistent sessions and stored messages (what arrived within the timeout)."""
    stats: dict[str, int] = {}
    complete = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            stats[_TOPICS[msg.topic]] = int(msg.payload)
        except (KeyError, ValueError):
            return
        if len(stats) == len(_TOPICS):
            complete.set()

    client = make_client(admin_url)
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe([(topic, 0) for topic in _TOPICS])
    host, port = host_port(admin_url)
    try:
        client.connect(host, port, keepalive=10)
    except OSError:
        return stats
    client.loop_start()
    complete.wait(timeout_s)
    client.disconnect()
    client.loop_stop()
    return dict(stats)


def retained_count(url: AnyUrl, topic_filter: str, wait_s: float = 1.5) -> int:
    """Retained messages under a filter: the broker replays them to every new subscriber."""
    seen: set[str] = set()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:
            seen.add(msg.topic)

    client = make_client(url)
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=0)
    host, port = host_port(url)
    client.connect(host, port, keepalive=10)
    client.loop_start()
    time.sleep(wait_s)
    client.disconnect()
    client.loop_stop()
    return len(seen)


class BrokerProbe(threading.Thread):
    """A tiny QoS 1 publish every `interval`: its PUBACK round trip shows when the broker stalls.

    Mosquitto is single-threaded; while it writes its persistence file it answers nobody, and
    every message in flight waits. The topic has no subscriber; a refused publish is acked too.
    """

    def __init__(self, admin_url: AnyUrl, interval: float = 0.1) -> None:
        super().__init__(name="bench-broker-probe", daemon=True)
        self._url = admin_url
        self._interval = interval
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._sent: dict[int, float] = {}
        self._samples: list[tuple[float, float]] = []  # (unix time sent, round trip s)

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, _r: object, _p: object) -> None:
        now = time.time()
        with self._lock:
            sent = self._sent.pop(mid, None)
            if sent is not None:
                self._samples.append((sent, now - sent))

    def run(self) -> None:
        client = make_client(self._url)
        client.on_publish = self._on_publish
        host, port = host_port(self._url)
        try:
            client.connect(host, port, keepalive=30)
        except OSError:
            return
        client.loop_start()
        while not self._halt.wait(self._interval):
            with self._lock:
                self._sent[client.publish(PROBE_TOPIC, b"", qos=1).mid] = time.time()
        client.disconnect()
        client.loop_stop()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def max_round_trip_s(self, start: float, end: float) -> float:
        """The longest PUBACK wait of a probe sent between two unix times (unanswered: still waiting)."""
        now = time.time()
        with self._lock:
            answered = [rtt for sent, rtt in self._samples if start <= sent <= end]
            waiting = [now - sent for sent in self._sent.values() if start <= sent <= end]
        return max(answered + waiting, default=0.0)
