"""Where announcements go: the broker (QoS 1, on the alarm's community topic) and a webhook.

A sink only sends one announcement or raises; ordering, retries and cursors are the service's.
"""

from __future__ import annotations

import logging
import secrets
import threading
import urllib.request
from urllib.error import HTTPError

from pydantic import AnyHttpUrl, AnyUrl

from core.broker.client import host_port, make_client
from core.config import Settings
from core.contract.delivery import QOS
from core.contract.payloads import AlarmNotice
from core.contract.topics import alarm_topic

logger = logging.getLogger(__name__)


class Sink:
    """Delivers one announcement (`send`) and says whether a failure is worth another attempt."""

    name = "sink"

    def send(self, notice: AlarmNotice, body: bytes) -> None:
        raise NotImplementedError

    def retryable(self, error: BaseException) -> bool:
        return True

    def start(self) -> None:
        """Open what the sink needs (a connection)."""

    def close(self) -> None:
        """Release it."""


class MqttSink(Sink):
    """Publishes with the notifier's account; one connection, kept up by paho."""

    name = "mqtt"

    def __init__(self, url: AnyUrl, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._connected = threading.Event()
        self._client = make_client(url, f"yiju-notify-{secrets.token_hex(4)}")
        self._client.reconnect_delay_set(1, 30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_args: self._connected.clear()
        self._client.connect_async(*host_port(url))

    def _on_connect(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            logger.warning("mqtt: the broker refused the notifier's account: %s", reason)
            return
        self._connected.set()

    def start(self) -> None:
        self._client.loop_start()

    def send(self, notice: AlarmNotice, body: bytes) -> None:
        if not self._connected.wait(self.timeout_s):
            raise ConnectionError("broker unreachable")
        info = self._client.publish(alarm_topic(notice.community_id), body, qos=QOS)
        info.wait_for_publish(self.timeout_s)
        if not info.is_published():
            raise TimeoutError(f"no PUBACK within {self.timeout_s} s")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class WebhookSink(Sink):
    """POSTs the announcement as JSON; worth retrying after network errors, 5xx, 408 and 429."""

    name = "webhook"

    def __init__(self, url: AnyHttpUrl, timeout_s: float) -> None:
        self.url, self.timeout_s = str(url), timeout_s

    def retryable(self, error: BaseException) -> bool:
        return not isinstance(error, HTTPError) or error.code >= 500 or error.code in (408, 429)

    def send(self, notice: AlarmNotice, body: bytes) -> None:
        request = urllib.request.Request(  # noqa: S310 (the setting admits http and https only)
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s):  # noqa: S310 (as above)
            pass  # a 2xx; urllib raises HTTPError for the rest


def from_settings(settings: Settings) -> list[Sink]:
    """The sinks the settings enable."""
    sinks: list[Sink] = []
    if settings.notify_mqtt_url is not None:
        sinks.append(MqttSink(settings.notify_mqtt_url, settings.notify_timeout_s))
    if settings.notify_webhook_url is not None:
        sinks.append(WebhookSink(settings.notify_webhook_url, settings.notify_timeout_s))
    return sinks
