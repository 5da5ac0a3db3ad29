"""The learned detectors: episodes from window ranks, and the silent faults they catch on simulated days."""

from __future__ import annotations

import pandas as pd

from analytics import learned
from analytics.evaluate import LEARNED_TYPE
from analytics.features import BY_KIND, WINDOW
from analytics.learned import Settings
from analytics.simulated import simulate
from simulators.behaviour.faults import FaultRates
from tests.analytics.simulated_days import rules_only, scored

T0 = pd.Timestamp("2026-03-02T00:00Z")


def _ranks(values: list[float], gap_after: int | None = None) -> pd.Series:
    stamps = [
        T0 + WINDOW * (i + (1 if gap_after is not None and i > gap_after else 0)) for i in range(len(values))
    ]
    return pd.Series(values, index=pd.DatetimeIndex(stamps, name="window"))


def test_an_episode_needs_enough_consecutive_unusual_windows() -> None:
    settings = Settings(threshold=0.99, min_windows=2)
    found = list(learned._episodes(_ranks([0.5, 0.995, 0.5, 0.999, 1.0, 0.992, 0.1, 1.0]), settings))
    assert found == [(T0 + 3 * WINDOW, T0 + 5 * WINDOW, T0 + 4 * WINDOW)]
    # a window with no data breaks a run
    assert list(learned._episodes(_ranks([0.995, 0.999], gap_after=0), settings)) == []


def test_silent_faults_no_rule_sees_are_caught_by_the_learned_detectors() -> None:
    result = scored().evaluation
    for fault_type in ("over_temperature_drift", "vibration_rising"):
        s = result.by_type[fault_type]
        assert rules_only().by_type[fault_type].f1 < 0.7  # the rules alone miss them
        assert s.f1 >= 0.7, (fault_type, s)


def test_learned_alarms_do_not_flood_operators() -> None:
    result = scored().evaluation
    assert result.false_alarms_per_device_day < 0.05
    learned_alarms = [d for d in scored().detections if d.type == LEARNED_TYPE]
    assert learned_alarms and all(d.detector.startswith("pyod:") for d in learned_alarms)
    assert all("furthest from normal:" in d.explanation for d in learned_alarms)


def test_a_healthy_fleet_raises_almost_nothing() -> None:
    past = simulate(2, seed=11, rates=FaultRates.uniform(0.0))
    now = simulate(1, seed=12, rates=FaultRates.uniform(0.0), start=past.end)
    models = learned.fit_all(past.frames)
    assert set(models) == set(BY_KIND)
    found = learned.detect(now.frames, models, now.start)
    assert len(found) / now.device_days < 0.05
