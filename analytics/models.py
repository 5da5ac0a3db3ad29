"""What the detectors produce: detections, which the alarm store turns into alarms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Severity = Literal["critical", "major", "minor", "warning"]


@dataclass(frozen=True, slots=True)
class Detection:
    """One anomalous episode of one device: from `first_seen` to `last_seen` (None: still going)."""

    device_id: str
    type: str
    detector: str
    severity: Severity
    first_seen: datetime
    last_seen: datetime
    cleared_at: datetime | None
    explanation: str
    score: float | None = None
