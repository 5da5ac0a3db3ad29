"""The domain of ingest: validate each message against the contract and the registry."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from core.config import Settings
from core.contract.codec import ContractError, Reason, decode
from core.db.tables import DEVICE_TABLES
from core.registry.models import DeviceRef
from ingest.models import Batch, Inbound, Reject

logger = logging.getLogger(__name__)

Lookup = Callable[[Iterable[str] | None], dict[str, DeviceRef]]


class DeviceCache:
    """Registry entries ingest has seen; refreshed whole periodically, misses asked in bulk.

    A miss is asked again on every batch it appears in: a device counts as registered from its
    very next message, and one indexed lookup per batch is all a flood of unknown devices costs.
    """

    def __init__(self, lookup: Lookup, refresh_s: float) -> None:
        self._lookup = lookup
        self._refresh_s = refresh_s
        self._devices: dict[str, DeviceRef] = {}
        self._loaded_at = float("-inf")

    def resolve(self, ids: set[str]) -> dict[str, DeviceRef]:
        """Known devices among `ids`, asking the database about the others."""
        now = time.monotonic()
        if now - self._loaded_at > self._refresh_s:
            self._devices = self._lookup(None)
            self._loaded_at = now
        ask = [i for i in ids if i not in self._devices]
        if ask:
            self._devices.update(self._lookup(ask))
        return self._devices


def reject(item: Inbound, reason: Reason | str, detail: str, keep_bytes: int) -> Reject:
    """A reject record; the stored payload is cut to `keep_bytes`."""
    return Reject(
        datetime.fromtimestamp(item.received_at, UTC),
        item.topic,
        str(reason),
        detail[:1000],
        item.payload[:keep_bytes],
        len(item.payload),
    )


def sort_batch(items: list[Inbound], devices: DeviceCache, settings: Settings) -> Batch:
    """Decode and check every message; each becomes a row or a reject, none is dropped."""
    keep = settings.ingest_reject_payload_bytes
    batch = Batch()
    decoded = []
    for item in items:
        try:
            topic, payload = decode(item.topic, item.payload)
        except ContractError as error:
            batch.rejects.append(reject(item, error.reason, error.detail, keep))
            continue
        decoded.append((item, topic, payload))
    known = devices.resolve({topic.device_id for _, topic, _ in decoded}) if decoded else {}
    now = datetime.now(UTC)
    earliest = now - timedelta(days=settings.ingest_max_past_days)
    latest = now + timedelta(seconds=settings.ingest_max_future_s)
    for item, topic, payload in decoded:
        ref = known.get(topic.device_id)
        if ref is None:
            batch.rejects.append(
                reject(
                    item,
                    Reason.UNKNOWN_DEVICE,
                    f"device {topic.device_id!r} is not registered",
                    keep,
                )
            )
        elif ref.decommissioned:
            batch.rejects.append(
                reject(item, Reason.DECOMMISSIONED, f"device {ref.id!r} is decommissioned", keep)
            )
        elif ref.community_id != topic.community_id or ref.kind != topic.kind:
            batch.rejects.append(
                reject(
                    item,
                    Reason.REGISTRY_MISMATCH,
                    f"device {ref.id!r} is registered as {ref.kind} in {ref.community_id!r}, "
                    f"topic says {topic.kind} in {topic.community_id!r}",
                    keep,
                )
            )
        elif not earliest <= payload.ts <= latest:
            batch.rejects.append(
                reject(
                    item,
                    Reason.TS_OUT_OF_RANGE,
                    f"ts {payload.ts.isoformat()} is outside "
                    f"[{earliest:%Y-%m-%dT%H:%M:%SZ}, {latest:%Y-%m-%dT%H:%M:%SZ}]",
                    keep,
                )
            )
        else:
            table = DEVICE_TABLES[(topic.kind, topic.channel)]
            batch.add(table.name, table.row(topic.device_id, payload))
    return batch
