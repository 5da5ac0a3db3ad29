"""Contract v1 topics: `community/{community_id}/{kind}/{device_id}/{channel}` from devices, and
`community/{community_id}/alarms/{severity}` from analytics (one level shorter, so that no device
filter matches it)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

CONTRACT_VERSION = 1
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"
ROOT = "community"
ALARMS = "alarms"
MAX_PAYLOAD_BYTES = 16 * 1024
# Default acceptance window for `ts` around the time ingest receives a message (tunable in
# settings): clocks may run a little ahead; history may be backfilled up to this far back.
TS_MAX_FUTURE_S = 600
TS_MAX_PAST_DAYS = 400

_ID = re.compile(ID_PATTERN)


class Kind(StrEnum):
    """Device kinds that old-community renovation adds."""

    EV_CHARGER = "ev_charger"
    PARKING_SPACE = "parking_space"
    PARKING_GATE = "parking_gate"
    PARCEL_LOCKER = "parcel_locker"
    ELEVATOR = "elevator"


class Channel(StrEnum):
    """What a message carries."""

    TELEMETRY = "telemetry"
    EVENT = "event"
    STATUS = "status"


class TopicError(ValueError):
    """A topic that does not follow contract v1."""


class Topic(NamedTuple):
    """A parsed device topic."""

    community_id: str
    kind: Kind
    device_id: str
    channel: Channel

    def __str__(self) -> str:
        return f"{ROOT}/{self.community_id}/{self.kind}/{self.device_id}/{self.channel}"


_KINDS = {k.value: k for k in Kind}
_CHANNELS = {c.value: c for c in Channel}


def is_valid_id(value: str) -> bool:
    """Whether a community, building or device id matches the contract's pattern."""
    return _ID.match(value) is not None and "\n" not in value


def parse_topic(topic: str) -> Topic:
    """Split and check a topic; raise TopicError with the precise reason."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != ROOT:
        raise TopicError(f"topic must be {ROOT}/<community>/<kind>/<device>/<channel>")
    _, community_id, kind, device_id, channel = parts
    if not is_valid_id(community_id):
        raise TopicError(f"community id {community_id[:70]!r} does not match {ID_PATTERN}")
    if not is_valid_id(device_id):
        raise TopicError(f"device id {device_id[:70]!r} does not match {ID_PATTERN}")
    if kind not in _KINDS:
        raise TopicError(f"unknown kind {kind[:40]!r}")
    if channel not in _CHANNELS:
        raise TopicError(f"unknown channel {channel[:40]!r}")
    return Topic(community_id, _KINDS[kind], device_id, _CHANNELS[channel])


def device_topic(community_id: str, kind: Kind | str, device_id: str, channel: Channel | str) -> str:
    """The topic a device publishes one channel on."""
    return f"{ROOT}/{community_id}/{kind}/{device_id}/{channel}"


def device_topic_filter(community_id: str, kind: Kind | str, device_id: str) -> str:
    """The filter covering all of one device's channels (its broker ACL)."""
    return f"{ROOT}/{community_id}/{kind}/{device_id}/+"


def subscription(share_group: str | None = None) -> str:
    """The filter ingest subscribes to; shared when a group is given."""
    base = f"{ROOT}/+/+/+/+"
    return f"$share/{share_group}/{base}" if share_group else base


def alarm_topic(community_id: str, severity: str = "critical") -> str:
    """Where analytics announces a community's alarms of one severity (only critical ones, in v1)."""
    return f"{ROOT}/{community_id}/{ALARMS}/{severity}"


def alarm_topic_filter(community_id: str) -> str:
    """The filter covering one community's alarm topics (`+`: every community's)."""
    return f"{ROOT}/{community_id}/{ALARMS}/#"
