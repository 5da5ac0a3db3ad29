"""Every simulated device on its own MQTT connection and account, all driven from one thread.

paho's `loop_start()` runs one thread per client, and 10,000 devices would mean 10,000 threads.
No library multiplexes paho clients, so this does it by hand with `selectors` and paho's documented
external-loop calls (`socket`, `loop_read`, `loop_write`, `want_write`, `loop_misc`).
"""

from __future__ import annotations

import contextlib
import logging
import resource
import selectors
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from core.contract.codec import encode
from core.contract.delivery import QOS, is_retained
from core.contract.payloads import DeviceStatus, Envelope
from core.contract.topics import Channel, Kind, device_topic

logger = logging.getLogger(__name__)

KEEPALIVE_S = 60
RECONNECT_S = 5.0
# MQTT 5: a client may end its session asking the broker to publish its will (its `offline` status)
WITH_WILL = ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message")


@dataclass(frozen=True, slots=True)
class Account:
    """A device as the broker knows it."""

    device_id: str
    kind: Kind
    community_id: str
    password: str


class Link:
    """One device's connection."""

    __slots__ = ("account", "client", "connected", "refused", "retry_at", "sock", "topics")

    def __init__(self, account: Account, client: mqtt.Client) -> None:
        self.account, self.client = account, client
        self.connected = self.refused = False
        self.retry_at = 0.0
        self.sock: Any = None
        self.topics = {
            c: device_topic(account.community_id, account.kind, account.device_id, c) for c in Channel
        }


class Connections:
    """Open, publish through and close the connections of many devices from the calling thread."""

    def __init__(self, broker: tuple[str, int], *, max_unacked: int = 5_000) -> None:
        self.broker = broker
        self.max_unacked = max_unacked
        self.links: dict[str, Link] = {}
        self.published = self.acked = 0
        self._selector = selectors.DefaultSelector()
        self._misc_at = 0
        self._misc_due = 0.0

    @property
    def unacked(self) -> int:
        return self.published - self.acked

    def open(self, accounts: Iterable[Account], progress: Callable[[int], None] | None = None) -> list[str]:
        """Connect every device, each with a will of a retained `offline` status; returns the ids
        of devices the broker refused (wrong password), which stay closed."""
        accounts = list(accounts)
        _raise_file_limit(len(self.links) + len(accounts) + 64)
        for i, account in enumerate(accounts):
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=f"sim-{account.device_id}", protocol=mqtt.MQTTv5
            )
            client.username_pw_set(account.device_id, account.password)
            will = DeviceStatus(ts=datetime.now(UTC), seq=0, state="offline", firmware="sim")
            link = Link(account, client)
            client.will_set(link.topics[Channel.STATUS], encode(will), qos=QOS, retain=True)
            client.on_connect = self._on_connect
            client.on_disconnect = self._on_disconnect
            client.on_publish = self._on_publish
            client.on_socket_open = self._on_socket_open
            client.on_socket_close = self._on_socket_close
            client.user_data_set(link)
            self.links[account.device_id] = link
            self._connect(link)
            if i % 200 == 199:
                self.poll(0)
                if progress:
                    progress(i + 1)
        return self._settle([a.device_id for a in accounts])

    def retry(self, device_ids: Sequence[str]) -> list[str]:
        """Connect refused devices again (their accounts were reset); returns those still refused."""
        for device_id in device_ids:
            link = self.links[device_id]
            link.refused = False
            self._connect(link)
        return self._settle(device_ids)

    def _settle(self, device_ids: Sequence[str], timeout_s: float = 60) -> list[str]:
        links = [self.links[d] for d in device_ids]
        deadline = time.monotonic() + timeout_s
        while not all(lk.connected or lk.refused for lk in links):
            if time.monotonic() > deadline:
                down = [lk.account.device_id for lk in links if not (lk.connected or lk.refused)]
                raise ConnectionError(f"{len(down)} devices could not connect, e.g. {down[:3]}")
            self.poll(0.1)
        return [lk.account.device_id for lk in links if lk.refused]

    def publish(self, device_id: str, channel: Channel, payload: Envelope) -> None:
        """Queue one message (QoS 1); waits while too many are unacknowledged."""
        while self.unacked >= self.max_unacked:
            self.poll(0.05)
        link = self.links[device_id]
        link.client.publish(link.topics[channel], encode(payload), qos=QOS, retain=is_retained(channel))
        self.published += 1
        if link.client.want_write():
            self._watch(link)

    def poll(self, timeout: float) -> None:
        """Move bytes for up to `timeout` seconds; keep-alives and reconnects as they fall due."""
        for key, events in self._selector.select(timeout):
            link: Link = key.data
            client = link.client
            if events & selectors.EVENT_READ and client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._drop(link)
                continue
            if events & selectors.EVENT_WRITE:
                client.loop_write()
                if not client.want_write():
                    self._watch(link)
        now = time.monotonic()
        if now >= self._misc_due:
            self._misc(now)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every message is acknowledged (or the time is up)."""
        deadline = time.monotonic() + timeout
        while self.unacked and time.monotonic() < deadline:
            self.poll(0.05)
        return not self.unacked

    def close(self, *, wills: bool) -> None:
        """Disconnect every device; with `wills` the broker publishes each one's `offline` will."""
        self.drain()
        for link in self.links.values():
            if link.connected:
                link.client.disconnect(reasoncode=WITH_WILL if wills else None)
        deadline = time.monotonic() + 10
        while any(lk.connected for lk in self.links.values()) and time.monotonic() < deadline:
            self.poll(0.05)
        self._selector.close()

    def _connect(self, link: Link) -> None:
        try:
            link.client.connect(*self.broker, keepalive=KEEPALIVE_S)
        except OSError as error:
            link.retry_at = time.monotonic() + RECONNECT_S
            logger.warning("device %s cannot connect: %s", link.account.device_id, error)
            return
        self._watch(link)  # the CONNECT packet may still be queued

    def _watch(self, link: Link) -> None:
        """Wait for the socket to be writable too while paho has bytes queued."""
        if link.sock is not None:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if link.client.want_write() else 0)
            self._selector.modify(link.sock, events, link)

    def _drop(self, link: Link) -> None:
        link.connected = False
        link.retry_at = 0.0 if link.refused else time.monotonic() + RECONNECT_S

    # paho tells an external loop when it opens and closes a socket; registering the very object
    # it closes matters, since the OS hands the same descriptor number to the next socket
    def _on_socket_open(self, _client: mqtt.Client, link: Link, sock: Any) -> None:
        link.sock = sock
        self._selector.register(sock, selectors.EVENT_READ, link)

    def _on_socket_close(self, _client: mqtt.Client, link: Link, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        link.sock = None

    def _misc(self, now: float) -> None:
        """Keep-alives for a slice of the clients per call, so each is seen every few seconds."""
        links = list(self.links.values())
        step = max(1, len(links) // 20)
        for link in links[self._misc_at : self._misc_at + step]:
            if link.connected:
                link.client.loop_misc()
            elif link.retry_at and now >= link.retry_at:
                link.retry_at = 0.0
                self._connect(link)
        self._misc_at = 0 if self._misc_at + step >= len(links) else self._misc_at + step
        self._misc_due = now + 0.25

    def _on_connect(
        self, client: mqtt.Client, link: Link, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            logger.debug("device %s refused by the broker: %s", link.account.device_id, reason)
            link.refused = True  # not retried: its account needs a new password first
            return
        link.connected = True

    def _on_disconnect(
        self, client: mqtt.Client, link: Link, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        link.connected = False

    def _on_publish(self, client: mqtt.Client, link: Link, mid: int, reason: ReasonCode, props: Any) -> None:
        self.acked += 1


def _raise_file_limit(needed: int) -> None:
    """One socket per device: lift the soft open-files limit towards the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))
    if min(hard, needed) < needed:
        raise OSError(f"{needed} open files needed, the hard limit is {hard} (raise `ulimit -n`)")
