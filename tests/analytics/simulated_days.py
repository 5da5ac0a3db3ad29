"""Four simulated days of the demo community with injected faults, scored once per test run."""

from __future__ import annotations

from functools import cache

from analytics.evaluate import Evaluation, evaluate
from analytics.simulated import Scored, score

DAYS = 4


@cache
def scored() -> Scored:
    """Rules plus the learned detectors (fitted on three earlier days) over the four days."""
    return score(DAYS)


@cache
def rules_only() -> Evaluation:
    s = scored()
    found = [d for d in s.detections if d.detector.startswith("rule:")]
    return evaluate(found, s.sim.labels, s.sim.end, device_days=s.sim.device_days)
