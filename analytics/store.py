"""Detections into alarms: one open alarm per (device, type), extended by repeated detections.

The database enforces the "one open alarm" rule (a partial unique index on anomalies), so two
detectors or two analytics processes firing at once still make one alarm.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg

from analytics.models import Detection
from analytics.queries import ANALYTICS

# alarms whose condition has no "it is over" message: cleared once not seen again for a while
SELF_CLEARING = (
    "power_spike", "meter_backwards", "meter_stuck", "sensor_flapping", "night_trips", "unusual_behaviour",
)  # fmt: skip


def record(conn: psycopg.Connection, detections: Sequence[Detection]) -> int:
    """Raise or extend an alarm per detection, and clear those whose episode ended; returns the
    number of statements that changed a row."""
    changed = 0
    with conn.transaction(), conn.cursor() as cur:
        for d in detections:
            params = {
                "device_id": d.device_id, "type": d.type, "detector": d.detector, "severity": d.severity,
                "score": d.score, "first_seen": d.first_seen, "last_seen": d.last_seen,
                "explanation": d.explanation, "cleared_at": d.cleared_at,
            }  # fmt: skip
            cur.execute(ANALYTICS.raise_alarm, params)
            changed += cur.rowcount
            if d.cleared_at is not None:
                cur.execute(ANALYTICS.clear_alarm, params)
                changed += cur.rowcount
    return changed


def clear_quiet(conn: psycopg.Connection, after: timedelta) -> int:
    """Clear self-clearing alarms not seen again for `after`; returns how many."""
    return conn.execute(ANALYTICS.clear_quiet, (list(SELF_CLEARING), after)).rowcount


def clear(conn: psycopg.Connection, ended: Sequence[tuple[str, str, datetime]]) -> int:
    """Clear the open alarms of (device, type) whose condition ended at the given time."""
    changed = 0
    with conn.transaction(), conn.cursor() as cur:
        for device_id, type_, at in ended:
            cur.execute(ANALYTICS.clear_alarm, {"device_id": device_id, "type": type_, "cleared_at": at})
            changed += cur.rowcount
    return changed
