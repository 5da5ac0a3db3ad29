"""Scoring detections against labels: a fault that never showed is neither caught nor missed."""

from __future__ import annotations

from datetime import timedelta

from analytics.evaluate import LEARNED_TYPE, Label, evaluate, pooled
from analytics.models import Detection
from analytics.simulated import START

HOUR = timedelta(hours=1)
END = START + 24 * HOUR


def _detection(device: str, at: timedelta, type_: str = "meter_stuck") -> Detection:
    t = START + at
    return Detection(device, type_, "rule:test", "minor", t, t + HOUR, None, "crafted")


def _labels() -> list[Label]:
    return [
        Label("ch-1", "meter_stuck", START + HOUR, START + 3 * HOUR, silent=True, manifested=False),
        Label("ch-2", "meter_stuck", START + HOUR, START + 3 * HOUR, silent=True),
        Label("ch-3", "meter_stuck", START + 5 * HOUR, START + 6 * HOUR, silent=True, manifested=False),
    ]


def test_a_fault_that_did_not_manifest_is_a_dont_care_span() -> None:
    found = [_detection("ch-1", 2 * HOUR), _detection("ch-2", 2 * HOUR), _detection("ch-1", 10 * HOUR)]
    s = evaluate(found, _labels(), END, device_days=3).by_type["meter_stuck"]
    # ch-1's detection inside its unmanifested fault is neither caught nor false; the one at
    # 10 h explains nothing and stays a false alarm; ch-3's unmanifested fault is not missed
    assert (s.tp, s.fn, s.fp, s.injected, s.manifested) == (1, 0, 1, 3, 1)
    every = evaluate(found, _labels(), END, device_days=3, only_manifested=False).by_type["meter_stuck"]
    assert (every.tp, every.fn, every.fp, every.injected, every.manifested) == (2, 1, 1, 3, 1)


def test_an_alarm_of_another_type_in_a_dont_care_span_is_not_false() -> None:
    found = [_detection("ch-3", 5 * HOUR, "charger_overheat")]
    result = evaluate(found, _labels(), END, device_days=3)
    assert result.false_alarms == 0
    assert "over_temperature_drift" not in result.by_type


def test_runs_pool_their_counts_and_a_learned_false_alarm_counts_only_overall() -> None:
    found = [_detection("ch-2", 2 * HOUR), _detection("ch-2", 10 * HOUR, LEARNED_TYPE)]
    one = evaluate(found, _labels(), END, device_days=3)
    assert one.unattributed == 1 and LEARNED_TYPE not in one.by_type
    assert (one.overall.tp, one.overall.fp, one.false_alarms) == (1, 1, 1)
    two = pooled([one, evaluate([], _labels(), END, device_days=3)])
    s = two.by_type["meter_stuck"]
    assert (s.tp, s.fn, s.injected, s.manifested) == (1, 1, 6, 2)
    assert (two.false_alarms, two.device_days, two.unattributed) == (1, 6, 1)
    assert two.overall.f1 == 0.5  # caught 1 of 2 faults, and 1 of 2 alarms was false
