"""paho-mqtt clients built from a `mqtt://user:password@host:port` setting."""

from __future__ import annotations

from urllib.parse import unquote

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import AnyUrl


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
