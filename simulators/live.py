"""A small live community for the demo: each device on its own MQTT connection and credentials.

Every device announces itself with a retained `online` status (its last will is a retained
`offline` status), then sends telemetry every `interval` seconds and now and then an event.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from core.contract.codec import encode
from core.contract.delivery import QOS, is_retained
from core.contract.topics import Channel, Kind, device_topic
from simulators.messages import MessageFactory

logger = logging.getLogger(__name__)


@dataclass
class LiveDevice:
    """A simulated device with its broker account."""

    id: str
    kind: Kind
    community_id: str
    password: str

    def topic(self, channel: Channel) -> str:
        return device_topic(self.community_id, self.kind, self.id, channel)


class DeviceRunner:
    """One device's connection and publishing loop (a daemon thread)."""

    def __init__(self, device: LiveDevice, broker: tuple[str, int], interval_s: float, seed: int) -> None:
        self.device = device
        self.interval_s = interval_s
        self.messages = MessageFactory(device.kind, seed=seed)
        self.sent = 0
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"sim-{device.id}", protocol=mqtt.MQTTv5
        )
        self._client.username_pw_set(device.id, device.password)
        will = self.messages.status("offline")
        self._client.will_set(device.topic(Channel.STATUS), encode(will), qos=QOS, retain=True)
        self._broker = broker

    def _publish(self, channel: Channel, payload: bytes) -> None:
        self._client.publish(self.device.topic(channel), payload, qos=QOS, retain=is_retained(channel))
        self.sent += 1

    def run(self) -> None:
        self._client.connect(*self._broker, keepalive=30)
        self._client.loop_start()
        self._publish(Channel.STATUS, encode(self.messages.status("online")))
        self._stop.wait(self._rng.uniform(0, self.interval_s))  # spread devices over the interval
        while not self._stop.is_set():
            channel, payload = self.messages.mixed(event_share=0.15)
            self._publish(channel, payload)
            self._stop.wait(self.interval_s)
        self._publish(Channel.STATUS, encode(self.messages.status("offline")))
        self._client.disconnect()
        self._client.loop_stop()

    def stop(self) -> None:
        self._stop.set()


def run_devices(
    devices: list[LiveDevice],
    broker: tuple[str, int],
    *,
    interval_s: float,
    duration_s: float,
    report: Callable[[int], None],
    seed: int = 0,
) -> int:
    """Run every device until `duration_s` passes (0: until interrupted); returns messages sent."""
    runners = [DeviceRunner(d, broker, interval_s, seed + i) for i, d in enumerate(devices)]
    threads = [threading.Thread(target=r.run, name=r.device.id, daemon=True) for r in runners]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        while not duration_s or time.monotonic() - started < duration_s:
            time.sleep(min(5.0, duration_s or 5.0))
            report(sum(r.sent for r in runners))
    except KeyboardInterrupt:
        logger.info("interrupted: sending offline status")
    finally:
        for runner in runners:
            runner.stop()
        for thread in threads:
            thread.join(timeout=5)
    return sum(r.sent for r in runners)
