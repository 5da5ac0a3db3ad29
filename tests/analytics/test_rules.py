"""The rules on a simulated community with injected faults, scored against the ground truth."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from analytics.frames import frames
from analytics.rules import fault_events, moving_with_door_open
from analytics.simulated import START
from tests.analytics.simulated_days import rules_only as evaluation

# silent faults no rule can see: left to the learned detectors (tests/analytics/test_learned.py)
FOR_LEARNED = {"sensor_stuck", "compartment_sensor_fault", "vibration_rising", "over_temperature_drift"}


def test_every_fault_the_contract_reports_is_found() -> None:
    reported = {t: s for t, s in evaluation().by_type.items() if not s.silent}
    assert len(reported) >= 10
    for fault_type, s in reported.items():
        assert s.f1 >= 0.9, (fault_type, s)
        assert s.delay_p95_s is not None and s.delay_p95_s <= 180, (fault_type, s.delays_s)


def test_silent_faults_with_a_rule_are_found() -> None:
    silent = {t: s for t, s in evaluation().by_type.items() if s.silent and t not in FOR_LEARNED}
    assert {"silent", "dead_battery", "power_spike", "sensor_flapping", "night_trips"} <= set(silent)
    for fault_type, s in silent.items():
        assert s.f1 >= 0.7, (fault_type, s)


def test_operators_are_not_flooded() -> None:
    result = evaluation()
    assert result.overall.tp > 150
    assert result.false_alarms_per_device_day < 0.05


def test_a_fault_event_opens_and_its_clearing_closes_one_episode() -> None:
    t, cleared = START, START + timedelta(minutes=9)
    rows = [
        ("elevator_events", ("lift-1", t, 0, 1, "fault", None, None, "entrapment")),
        ("elevator_events", ("lift-1", t + timedelta(seconds=5), 0, 2, "fault", None, None, "entrapment")),
        ("elevator_events", ("lift-1", cleared, 0, 3, "fault_cleared", None, None, "entrapment")),
        ("elevator_events", ("lift-2", t, 0, 1, "fault", None, None, "power_loss")),
    ]  # fmt: skip
    found = sorted(fault_events(frames(rows)), key=lambda d: d.device_id)
    assert [(d.device_id, d.type, d.severity) for d in found] == [
        ("lift-1", "entrapment", "critical"), ("lift-2", "power_loss", "major"),
    ]  # fmt: skip
    assert found[0].first_seen == pd.Timestamp(t) and found[0].cleared_at == pd.Timestamp(
        t + timedelta(minutes=9)
    )
    assert found[1].cleared_at is None


def test_running_with_the_door_open_is_critical_until_the_door_closes() -> None:
    t = START
    states = [
        ("lift-1", 0, 1, "idle", "open"), ("lift-1", 5, 1, "up", "closed"),
        ("lift-1", 10, 2, "up", "open"), ("lift-1", 15, 3, "up", "open"),
        ("lift-1", 20, 3, "idle", "open"), ("lift-1", 25, 3, "idle", "closed"),
        ("lift-2", 0, 1, "up", "closed"),
    ]  # fmt: skip
    rows = [
        (
            "elevator_telemetry",
            (lift, t + timedelta(seconds=s), 0, s, floor, way, door, 1.0, 0.0, 0.05, "normal"),
        )
        for lift, s, floor, way, door in states
    ]
    found = list(moving_with_door_open(frames(rows)))
    assert [(d.device_id, d.type, d.severity) for d in found] == [("lift-1", "door_open_moving", "critical")]
    assert found[0].first_seen == pd.Timestamp(t + timedelta(seconds=10))
    assert found[0].cleared_at == pd.Timestamp(t + timedelta(seconds=20))
