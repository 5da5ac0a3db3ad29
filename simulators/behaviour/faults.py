"""Fault injection: per-type rates, and a per-device schedule computed up front from the seed.

Each kind's model looks its faults up in the schedule and changes what it emits; no message says
"this is a fault". The schedule is also the ground truth (FaultLabel) that detection is scored on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field

from core.contract.payloads import ElevatorFaultType, GateFaultCode, LockerFaultCode, OcppErrorCode
from core.contract.topics import Kind
from simulators.behaviour.base import HOUR, Fault, FaultLabel, local_days, rng_for

ELEVATOR_EVENT_FAULTS: frozenset[str] = frozenset(get_args(ElevatorFaultType))
_OTHER_ELEVATOR = tuple(
    t
    for t in get_args(ElevatorFaultType)
    if t not in ("entrapment", "door_open_moving", "stop_outside_door_zone")
)
_ANY = tuple(Kind)
LEAD = timedelta(minutes=15)


class FaultRates(BaseModel):
    """Probability per device-day of each fault type (types apply only to their kinds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reboot: float = Field(default=0.01, ge=0, le=1)
    network_loss: float = Field(default=0.01, ge=0, le=1)
    silent: float = Field(default=0.002, ge=0, le=1)
    charger_fault: float = Field(default=0.01, ge=0, le=1)
    over_temperature_drift: float = Field(default=0.002, ge=0, le=1)
    meter_stuck: float = Field(default=0.002, ge=0, le=1)
    meter_backwards: float = Field(default=0.001, ge=0, le=1)
    power_spike: float = Field(default=0.005, ge=0, le=1)
    sensor_stuck: float = Field(default=0.003, ge=0, le=1)
    sensor_flapping: float = Field(default=0.003, ge=0, le=1)
    dead_battery: float = Field(default=0.001, ge=0, le=1)
    gate_fault: float = Field(default=0.01, ge=0, le=1)
    door_left_open: float = Field(default=0.05, ge=0, le=1)
    locker_fault: float = Field(default=0.01, ge=0, le=1)
    compartment_sensor_fault: float = Field(default=0.005, ge=0, le=1)
    entrapment: float = Field(default=0.002, ge=0, le=1)
    door_open_moving: float = Field(default=0.002, ge=0, le=1)
    stop_outside_door_zone: float = Field(default=0.003, ge=0, le=1)
    elevator_fault: float = Field(default=0.01, ge=0, le=1)
    vibration_rising: float = Field(default=0.001, ge=0, le=1)
    night_trips: float = Field(default=0.003, ge=0, le=1)

    def scaled(self, factor: float) -> FaultRates:
        """Every rate times `factor` (capped at 1): 0 for a fault-free run, 10 for a stormy test."""
        return FaultRates(**{name: min(1.0, rate * factor) for name, rate in self.model_dump().items()})

    @classmethod
    def uniform(cls, rate: float, **overrides: float) -> FaultRates:
        """Every type at one rate (0 for a fault-free run), some set apart."""
        return cls(**{name: rate for name in cls.model_fields} | overrides)


class _Spec(NamedTuple):
    kinds: tuple[Kind, ...]
    silent: bool
    min_h: float
    max_h: float  # 0 = instantaneous; -1 = lasts past the simulated window (end None)


SPECS: dict[str, _Spec] = {
    "reboot": _Spec(_ANY, False, 0, 0),
    "network_loss": _Spec(_ANY, False, 0.1, 3),
    "silent": _Spec(_ANY, True, 2, 24),
    "charger_fault": _Spec((Kind.EV_CHARGER,), False, 0.25, 6),
    "over_temperature_drift": _Spec((Kind.EV_CHARGER,), True, 3, 48),
    "meter_stuck": _Spec((Kind.EV_CHARGER,), True, 2, 24),
    "meter_backwards": _Spec((Kind.EV_CHARGER,), True, 0.25, 0.25),
    "power_spike": _Spec((Kind.EV_CHARGER,), True, 0.15, 0.3),
    "sensor_stuck": _Spec((Kind.PARKING_SPACE,), True, 2, 48),
    "sensor_flapping": _Spec((Kind.PARKING_SPACE,), True, 0.5, 6),
    "dead_battery": _Spec((Kind.PARKING_SPACE,), True, 4, 96),
    "gate_fault": _Spec((Kind.PARKING_GATE,), False, 0.25, 4),
    "door_left_open": _Spec((Kind.PARCEL_LOCKER,), False, 0.2, 2),
    "locker_fault": _Spec((Kind.PARCEL_LOCKER,), False, 1, 24),
    "compartment_sensor_fault": _Spec((Kind.PARCEL_LOCKER,), True, 3, 72),
    "entrapment": _Spec((Kind.ELEVATOR,), False, 0.1, 1),
    "door_open_moving": _Spec((Kind.ELEVATOR,), False, 0.05, 0.3),
    "stop_outside_door_zone": _Spec((Kind.ELEVATOR,), False, 0.1, 1),
    "elevator_fault": _Spec((Kind.ELEVATOR,), False, 0.1, 4),
    "vibration_rising": _Spec((Kind.ELEVATOR,), True, -1, -1),
    "night_trips": _Spec((Kind.ELEVATOR,), True, 1, 3),
}


def _detail(fault_type: str, kind: Kind, pick: float) -> tuple[str, str]:
    """(label fault_type, detail): the contract's code where a message will carry one."""

    def choose(options: tuple[str, ...]) -> str:
        return options[int(pick * len(options))]

    if fault_type == "charger_fault":
        return fault_type, choose(get_args(OcppErrorCode))
    if fault_type == "gate_fault":
        return fault_type, choose(get_args(GateFaultCode))
    if fault_type == "locker_fault":
        return fault_type, choose(get_args(LockerFaultCode))
    if fault_type == "elevator_fault":
        return choose(_OTHER_ELEVATOR), ""
    return fault_type, ""


class FaultPlanner:
    """One device's faults, planned day by day from the seed (the same days give the same faults).

    A run with an end plans against it (faults end inside it); an endless live run plans a day or
    two ahead of the clock as it goes.
    """

    def __init__(
        self, device_id: str, kind: Kind, start: datetime, end: datetime | None, seed: int, rates: FaultRates
    ) -> None:
        self.device_id, self.kind, self.seed, self.rates = device_id, kind, seed, rates
        self.start, self.end = start, end
        self.types = [n for n, spec in SPECS.items() if kind in spec.kinds and getattr(rates, n) > 0]
        self._days = local_days(start, end or datetime.max.replace(tzinfo=UTC) - timedelta(days=2))
        self._next: datetime | None = next(self._days, None) if self.types else None
        self._recent: list[Fault] = []  # planned faults that may still overlap a new one

    def plan(self, until: datetime) -> list[Fault]:
        """Faults starting on the local days up to the one holding `until` not planned before."""
        out: list[Fault] = []
        while self._next is not None and self._next <= until:
            out += self._plan_day(self._next)
            self._next = next(self._days, None)
        return out

    def _plan_day(self, day: datetime) -> list[Fault]:
        start, end = self.start, self.end or datetime.max.replace(tzinfo=UTC)
        self._recent = [f for f in self._recent if f.end >= day]
        planned: list[Fault] = []
        types = list(self.types)
        r = rng_for(self.seed, self.device_id, day.date(), "faults")
        r.shuffle(types)
        for name in types:
            if r.random() >= getattr(self.rates, name):
                continue
            spec = SPECS[name]
            # a fault starts once the device has been seen working, and early enough to run its
            # shortest course inside the window
            lo, hi = max(day, start + LEAD), min(day + timedelta(days=1), end - HOUR * max(spec.min_h, 0))
            if name == "night_trips":  # abnormal trips in the small hours
                lo, hi = max(day + 0.5 * HOUR, start + LEAD), min(day + 3.5 * HOUR, end - HOUR)
            if hi <= lo:
                continue
            f_start = (lo + (hi - lo) * r.random()).astimezone(UTC)
            length = HOUR * r.uniform(spec.min_h, spec.max_h)
            f_end = None if spec.max_h < 0 else min(f_start + length, end)
            if any(_overlaps(f_start, f_end, f) for f in self._recent):
                continue
            fault_type, detail = _detail(name, self.kind, r.random())
            label = FaultLabel(self.device_id, self.kind, fault_type, f_start, f_end, spec.silent, detail)
            fault = Fault(label, r.random())
            planned.append(fault)
            self._recent.append(fault)
        planned.sort(key=lambda f: f.start)
        return planned


def plan_faults(
    device_id: str, kind: Kind, start: datetime, end: datetime, seed: int, rates: FaultRates
) -> list[Fault]:
    """The faults of one device in [start, end], non-overlapping, sorted by start."""
    return FaultPlanner(device_id, kind, start, end, seed, rates).plan(end)


def _overlaps(start: datetime, end: datetime | None, other: Fault) -> bool:
    return start <= other.end and (end is None or other.start <= end)
