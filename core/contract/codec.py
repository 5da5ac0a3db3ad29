"""Turn a raw MQTT message into a validated payload, or say precisely why not."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from core.contract.payloads import PAYLOADS, Envelope
from core.contract.topics import MAX_PAYLOAD_BYTES, Channel, Kind, Topic, TopicError, parse_topic

_DECODERS: dict[tuple[Kind, Channel], msgspec.json.Decoder[Any]] = {
    key: msgspec.json.Decoder(payload_type) for key, payload_type in PAYLOADS.items()
}
_ENCODER = msgspec.json.Encoder()


class Reason(StrEnum):
    """Why a message was rejected: a short code for metrics, the detail goes beside it."""

    BAD_TOPIC = "bad_topic"
    NO_SUCH_CHANNEL = "no_such_channel"
    OVERSIZE = "oversize"
    BAD_UTF8 = "bad_utf8"
    BAD_JSON = "bad_json"
    INVALID = "invalid"
    UNKNOWN_DEVICE = "unknown_device"
    REGISTRY_MISMATCH = "registry_mismatch"
    DECOMMISSIONED = "decommissioned"
    TS_OUT_OF_RANGE = "ts_out_of_range"
    DB_REJECTED = "db_rejected"


class ContractError(ValueError):
    """A message that breaks contract v1."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def decode(topic: str, payload: bytes) -> tuple[Topic, Envelope]:
    """Parse the topic and decode and validate the payload for its kind and channel."""
    try:
        parsed = parse_topic(topic)
    except TopicError as error:
        raise ContractError(Reason.BAD_TOPIC, str(error)) from None
    decoder = _DECODERS.get((parsed.kind, parsed.channel))
    if decoder is None:
        raise ContractError(Reason.NO_SUCH_CHANNEL, f"{parsed.kind} has no {parsed.channel} channel")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError(Reason.OVERSIZE, f"payload is {len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}")
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ContractError(Reason.BAD_UTF8, f"invalid UTF-8 at byte {error.start}") from None
    try:
        return parsed, decoder.decode(payload)
    except msgspec.ValidationError as error:
        raise ContractError(Reason.INVALID, str(error)) from None
    except msgspec.DecodeError as error:
        raise ContractError(Reason.BAD_JSON, str(error)) from None


def encode(payload: Envelope) -> bytes:
    """Serialise a payload as a device would send it."""
    return _ENCODER.encode(payload)
