"""The MQTT side of a worker: a persistent v5 session, QoS 1, manual acks.

Several workers split the stream with a shared subscription (`$share/<group>/...`). A single
worker subscribes without sharing: Mosquitto 2.0 does not restore shared subscriptions from its
persistence file, so after a broker restart messages published before the workers resubscribe
would find no subscriber, while a plain subscription of a persistent session is restored.

Callbacks stay thin: a message is appended to `pending`; nothing is acknowledged until the
worker says its batch is committed. The broker never has more than `receive_maximum`
unacknowledged messages in flight to us, which bounds memory under any burst.
"""

from __future__ import annotations

import logging
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.broker.client import host_port, make_client
from core.config import Settings
from core.contract.delivery import QOS
from core.contract.topics import subscription
from ingest import metrics
from ingest.models import Inbound

logger = logging.getLogger(__name__)


class MqttSource:
    """Receives device messages and acknowledges them after commit."""

    def __init__(self, settings: Settings, client_id: str, *, shared: bool, drain: bool = False) -> None:
        self._url = settings.require_mqtt()
        # Draining takes a session's queued messages and subscribes to nothing (ingest/sessions.py).
        self._drain = drain
        self._topic = subscription(settings.ingest_share_group if shared else None)
        # The form not in use, dropped on connect in case this session used it before.
        self._other_topic = subscription(None if shared else settings.ingest_share_group)
        self._client_id = client_id
        self._client = make_client(self._url, client_id, manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_unsubscribe = self._on_unsubscribe
        self._properties = Properties(PacketTypes.CONNECT)
        self._properties.SessionExpiryInterval = settings.ingest_session_expiry_s
        self._properties.ReceiveMaximum = settings.ingest_receive_maximum
        self._session = 0
        self._next_reconnect = 0.0
        self._backoff = 0.5
        self.connected = False
        self.subscribed = False
        self.had_subscription = False  # granted once on this client id since the process started
        self.sessions_lost = 0
        self.pending: list[Inbound] = []
        self.last_activity = time.monotonic()  # of the last connect, unsubscribe or message

    def _on_connect(
        self, client: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, reason: object, _p: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            # a refusal (bad credentials, not authorised) is retried with the same backoff as an
            # unreachable broker, not in a tight loop
            logger.error("broker refused the connection: %s; retrying in %.1fs", reason, self._backoff)
            self._next_reconnect = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, 10.0)
            return
        self._session += 1
        self.connected = True
        self._backoff = 0.5
        if not self._drain:  # the gauge is the worker's own connection, not a drain's
            metrics.BROKER_CONNECTED.set(1)
        logger.info("connected to broker (session present: %s)", flags.session_present)
        self.last_activity = time.monotonic()
        if self.had_subscription and not flags.session_present:
            self._session_lost()
        if self._drain:
            client.unsubscribe([self._topic, self._other_topic])
            return
        client.unsubscribe(self._other_topic)
        client.subscribe(self._topic, qos=QOS)

    def _on_unsubscribe(self, _c: mqtt.Client, _u: object, _mid: int, _r: object, _p: object) -> None:
        self.last_activity = time.monotonic()

    def _on_subscribe(
        self, _c: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: Properties | None
    ) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            logger.error("broker refused the subscription to %s: %s", self._topic, failed)
        self.subscribed = not failed
        self.had_subscription = self.had_subscription or self.subscribed

    def _session_lost(self) -> None:
        """The broker came back without the session it had granted us: say so loudly.

        What it queued for us, and what devices published until we subscribe again, is gone; the
        operator must know (a broker started without its persistence file, or one that lost it).
        """
        self.sessions_lost += 1  # never a drain's: it subscribes to nothing
        metrics.SESSIONS_LOST.inc()
        logger.error(
            "the broker no longer holds session %s: messages queued for it and those published "
            "before this resubscription are lost",
            self._client_id,
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        self.connected = self.subscribed = False
        if not self._drain:
            metrics.BROKER_CONNECTED.set(0)
        logger.warning("disconnected from broker: %s", reason)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = msg._topic.decode("utf-8", "replace")
        self.pending.append(Inbound(topic, bytes(msg.payload), msg.mid, msg.qos, time.time(), self._session))
        self.last_activity = time.monotonic()

    def start(self) -> None:
        """Connect (asynchronously; `pump` completes it and reconnects after any loss)."""
        host, port = host_port(self._url)
        self._client.connect_async(host, port, keepalive=30, clean_start=False, properties=self._properties)
        self._next_reconnect = 0.0
        self._reconnect()

    def _reconnect(self) -> None:
        try:
            self._client.reconnect()
        except OSError as error:
            logger.warning("broker unreachable (%s); retrying in %.1fs", error, self._backoff)
            self._next_reconnect = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, 10.0)

    def pump(self, timeout: float) -> None:
        """Do network work for up to `timeout` seconds, reconnecting when the link is down."""
        rc = self._client.loop(timeout=timeout)
        if rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN):
            self._read_buffered()
            return
        if time.monotonic() >= self._next_reconnect:
            self._reconnect()
        else:
            time.sleep(min(timeout, 0.05))

    def _read_buffered(self, most: int = 256) -> None:
        """Read on while packets are already waiting: paho's loop() reads one per select()."""
        read = self._client.loop_read
        pending = self.pending
        for _ in range(most):
            before = len(pending)
            if read() != mqtt.MQTT_ERR_SUCCESS or len(pending) == before:
                return

    def ack(self, items: list[Inbound]) -> None:
        """Acknowledge committed messages still owned by the current broker session."""
        current = self._session
        ack = self._client.ack
        for item in items:
            if item.qos and item.session == current:
                ack(item.mid, item.qos)

    def idle_for(self) -> float:
        """Seconds connected with nothing received (0 while disconnected)."""
        return time.monotonic() - self.last_activity if self.connected else 0.0

    def close(self, timeout: float = 2.0, *, end_session: bool = False) -> None:
        """Disconnect after the acknowledgements already queued have gone out.

        `end_session` sets the session's expiry to 0 on the way out: the broker discards it.
        """
        deadline = time.monotonic() + timeout
        while self._client.want_write() and time.monotonic() < deadline:
            self._client.loop_write()
        properties = None
        if end_session:
            properties = Properties(PacketTypes.DISCONNECT)
            properties.SessionExpiryInterval = 0
        self._client.disconnect(properties=properties)
        self._client.loop(timeout=0.1)
