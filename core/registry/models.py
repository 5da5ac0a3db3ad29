"""Registry records."""

from __future__ import annotations

from typing import NamedTuple

from core.contract.topics import Kind


class DeviceRef(NamedTuple):
    """What ingest needs to know of a device to accept its messages."""

    id: str
    community_id: str
    kind: Kind
    decommissioned: bool


class Credentials(NamedTuple):
    """A device's MQTT account; the password is shown once and never stored by Yiju."""

    username: str
    password: str
