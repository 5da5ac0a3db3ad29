"""How devices deliver contract-v1 messages over MQTT: QoS, retained channels, last will."""

from __future__ import annotations

from core.contract.topics import Channel

QOS = 1
"""Devices publish every message with this QoS; ingest subscribes with it too."""

RETAINED: frozenset[Channel] = frozenset({Channel.STATUS})
"""Channels whose last message the broker keeps for late subscribers."""

LAST_WILL = Channel.STATUS
"""The channel of each device's MQTT last will: an `offline` status, sent by the broker."""


def is_retained(channel: Channel) -> bool:
    """Whether messages on this channel are published with the retain flag."""
    return channel in RETAINED
