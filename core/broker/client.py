"""paho-mqtt clients built from a `mqtt://user:password@host:port` setting."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from urllib.parse import unquote

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import AnyUrl

logger = logging.getLogger(__name__)


def make_client(
    url: AnyUrl, client_id: str = "", *, manual_ack: bool = False, protocol: int = mqtt.MQTTv5
) -> mqtt.Client:
    """A v5 client with the URL's credentials set (not yet connected)."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTProtocolVersion(protocol),
        manual_ack=manual_ack,
    )
    if url.username:
        client.username_pw_set(unquote(url.username), unquote(url.password or ""))
    return client


def host_port(url: AnyUrl) -> tuple[str, int]:
    """Where the broker listens."""
    return url.host or "127.0.0.1", url.port or 1883


def purge_sessions(url: AnyUrl, client_ids: Iterable[str], timeout_s: float = 5.0) -> None:
    """Reconnect as each client with a clean start and no session expiry: the broker drops it."""
    host, port = host_port(url)
    client_ids = list(client_ids)
    for client_id in client_ids:
        client = make_client(url, client_id)
        try:
            client.connect(host, port, keepalive=10, clean_start=True)
            deadline = time.monotonic() + timeout_s
            while not client.is_connected() and time.monotonic() < deadline:
                client.loop(timeout=0.05)
            client.disconnect()
            client.loop(timeout=0.05)
        except OSError as error:
            logger.warning("broker unreachable (%s): sessions %s are left to expire", error, client_ids)
            return
