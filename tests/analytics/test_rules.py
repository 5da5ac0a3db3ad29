"""The rules on a simulated community with injected faults, scored against the ground truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import pandas as pd

from analytics.evaluate import Evaluation, Label, evaluate
from analytics.frames import frames
from analytics.rules import Limits, detect, fault_events
from core.db.tables import DEVICE_TABLES
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.community import load_community, resolve

START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 4
END = START + timedelta(days=DAYS)
# every kind of fault often enough to be scored in four days
RATES = FaultRates.uniform(
    0.03, charger_fault=0.3, over_temperature_drift=0.3, meter_stuck=0.3, meter_backwards=0.3,
    power_spike=0.3, gate_fault=0.5, door_left_open=0.5, locker_fault=0.5, compartment_sensor_fault=0.5,
    entrapment=0.1, door_open_moving=0.1, stop_outside_door_zone=0.1, elevator_fault=0.2,
    night_trips=0.2, vibration_rising=0.05,
)  # fmt: skip
# silent faults no rule can see: left to the learned detectors (issue 5, not built yet)
FOR_LEARNED = {"sensor_stuck", "compartment_sensor_fault", "vibration_rising", "over_temperature_drift"}


@cache
def evaluation() -> Evaluation:
    demo = load_community(resolve("demo"))
    sim = Simulation([demo], START, END, 5, RATES)
    rows = []
    for e in sim:
        table = DEVICE_TABLES[(e.kind, e.channel)]
        rows.append((table.name, table.row(e.device_id, e.payload)))
    kinds = {d[0]: d[1] for d in demo.devices()}
    rated = {demo.full_id(c.id): c.max_kw for c in demo.chargers}
    found = detect(frames(rows), kinds, rated, END, Limits())
    labels = [Label(lb.device_id, lb.fault_type, lb.start, lb.end, lb.silent) for lb in sim.labels]
    return evaluate(found, labels, END, device_days=len(kinds) * DAYS)


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
