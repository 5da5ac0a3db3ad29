"""Scoring detections against ground truth: precision, recall, F1 and delay per fault type.

A label (device, fault type, start, end) is caught when a detection of the matching alarm type
(or, for a silent fault, a learned detector's `unusual_behaviour`)
on that device starts inside its span (from a minute before it to `grace` after its end); its
delay is from the fault's start to the first such detection. A detection that explains no label
of its device at that time is a false alarm: of the fault type its alarm reports, or, for the
learned detectors' alarms, of none (`unattributed`), counted only in the overall figures.

A fault that left no trace in its device's rows (a stuck meter on an idle charger, a sensor stuck
reading occupied under a parked car) is not `manifested`: by default it is a don't-care span, where
a detection is neither caught nor false; `only_manifested=False` scores every injected fault alike.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from analytics.models import Detection

# the simulator's fault types -> the alarm type that reports them
ALARM_FOR: dict[str, str] = {
    "charger_fault": "charger_fault", "gate_fault": "gate_fault", "locker_fault": "locker_fault",
    "door_left_open": "door_left_open", "network_loss": "offline", "silent": "silent",
    "dead_battery": "low_battery", "over_temperature_drift": "charger_overheat",
    "meter_backwards": "meter_backwards", "meter_stuck": "meter_stuck", "power_spike": "power_spike",
    "sensor_flapping": "sensor_flapping", "night_trips": "night_trips",
    "entrapment": "entrapment", "stop_outside_door_zone": "stop_outside_door_zone",
    "overrun_top": "overrun_top", "overrun_bottom": "overrun_bottom",
    "door_open_moving": "door_open_moving", "overspeed": "overspeed", "power_loss": "power_loss",
    "abnormal_vibration": "abnormal_vibration", "repeated_door_cycling": "repeated_door_cycling",
    "alarm_button": "alarm_button", "compartment_sensor_fault": "compartment_sensor_fault",
    "sensor_stuck": "sensor_stuck",
}  # fmt: skip
LEARNED_TYPE = "unusual_behaviour"  # the learned detectors' alarm: it may explain any silent fault
NOT_ANOMALIES = frozenset({"reboot"})  # expected behaviour, not something to alarm on
EARLY = timedelta(minutes=1)
GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class Label:
    """One injected fault."""

    device_id: str
    fault_type: str
    start: datetime
    end: datetime | None
    silent: bool
    manifested: bool = True  # whether its device reported anything it would not have without it

    def span(self, end: datetime, grace: timedelta = GRACE) -> tuple[datetime, datetime]:
        """Where a detection is this fault's doing; `end` stands in for a fault still going on."""
        return self.start - EARLY, (self.end or end) + grace


@dataclass
class TypeScore:
    """Counts and delays for one fault type."""

    fault_type: str
    silent: bool
    tp: int = 0
    fn: int = 0
    fp: int = 0
    injected: int = 0
    manifested: int = 0
    delays_s: list[float] = field(default_factory=list)

    def add(self, other: TypeScore) -> None:
        """Count `other`'s faults, alarms and delays in with these."""
        self.tp, self.fn, self.fp = self.tp + other.tp, self.fn + other.fn, self.fp + other.fp
        self.injected, self.manifested = self.injected + other.injected, self.manifested + other.manifested
        self.delays_s += other.delays_s

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def delay_median_s(self) -> float | None:
        return statistics.median(self.delays_s) if self.delays_s else None

    @property
    def delay_p95_s(self) -> float | None:
        if not self.delays_s:
            return None
        ordered = sorted(self.delays_s)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass
class Evaluation:
    """Per fault type, overall, and false alarms per device-day."""

    by_type: dict[str, TypeScore]
    false_alarms: int
    device_days: float
    unattributed: int = 0  # false alarms of the learned detectors: they name no fault type

    @property
    def overall(self) -> TypeScore:
        total = TypeScore("overall", False)
        for s in self.by_type.values():
            total.add(s)
        total.fp += self.unattributed
        return total

    @property
    def false_alarms_per_device_day(self) -> float:
        return self.false_alarms / self.device_days if self.device_days else 0.0


def evaluate(
    detections: Sequence[Detection], labels: Sequence[Label], end: datetime, device_days: float,
    grace: timedelta = GRACE, only_manifested: bool = True,
) -> Evaluation:  # fmt: skip
    """Match detections to labels (see the module's docstring)."""
    by_device: dict[str, list[Detection]] = defaultdict(list)
    for d in detections:
        by_device[d.device_id].append(d)
    scores: dict[str, TypeScore] = {}
    explained: set[int] = set()
    for label in labels:
        if label.fault_type in NOT_ANOMALIES:
            continue
        score = scores.setdefault(label.fault_type, TypeScore(label.fault_type, label.silent))
        score.injected += 1
        score.manifested += label.manifested
        lo, hi = label.span(end, grace)
        during = [d for d in by_device[label.device_id] if lo <= d.first_seen <= hi]
        explained.update(id(d) for d in during)  # whatever the type: it is this fault's doing
        if only_manifested and not label.manifested:
            continue  # nothing to see: a detection here is neither caught nor false
        wanted = {ALARM_FOR.get(label.fault_type)} | ({LEARNED_TYPE} if label.silent else set())
        hits = [d for d in during if d.type in wanted]
        if hits:
            score.tp += 1
            score.delays_s.append(max(0.0, (min(d.first_seen for d in hits) - label.start).total_seconds()))
        else:
            score.fn += 1
    false_alarms = [d for d in detections if id(d) not in explained]
    reverse = {alarm: fault for fault, alarm in ALARM_FOR.items()}
    for d in false_alarms:
        if d.type != LEARNED_TYPE:
            fault = reverse.get(d.type, d.type)
            scores.setdefault(fault, TypeScore(fault, False)).fp += 1
    unattributed = sum(d.type == LEARNED_TYPE for d in false_alarms)
    return Evaluation(scores, len(false_alarms), device_days, unattributed)


def pooled(evaluations: Sequence[Evaluation]) -> Evaluation:
    """Several runs' evaluations as one: counts, delays, false alarms and device-days summed, so
    that a type's F1 rests on every run's faults rather than on the few one run happened to draw."""
    by_type: dict[str, TypeScore] = {}
    for e in evaluations:
        for t, s in e.by_type.items():
            by_type.setdefault(t, TypeScore(t, s.silent)).add(s)
    return Evaluation(
        by_type,
        sum(e.false_alarms for e in evaluations),
        sum(e.device_days for e in evaluations),
        sum(e.unattributed for e in evaluations),
    )
