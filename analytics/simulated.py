"""Simulated days with injected faults, in memory: the ground truth the detectors are scored on.

The simulators' behaviour models produce exactly the rows ingest would store (same tables, same
columns) plus the labels of every fault they injected, so an evaluation needs no broker or database.

Whether a fault manifested is decided by replaying its device without it (see `manifested`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import takewhile

import pandas as pd

from analytics import learned, occupancy, rules
from analytics.evaluate import Evaluation, Label, evaluate
from analytics.frames import frames
from analytics.models import Detection
from analytics.occupancy import Space
from analytics.rules import Frames
from core.contract.topics import Kind
from core.db.tables import DEVICE_TABLES, Row
from simulators.behaviour.base import Emission, FaultLabel
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.community import load_community, resolve

START = datetime(2026, 3, 2, tzinfo=UTC)
RATES = FaultRates.uniform(
    0.03, charger_fault=0.3, over_temperature_drift=0.3, meter_stuck=0.3, meter_backwards=0.3,
    power_spike=0.3, gate_fault=0.5, door_left_open=0.5, locker_fault=0.5, compartment_sensor_fault=1.0,
    entrapment=0.1, door_open_moving=0.1, stop_outside_door_zone=0.1, elevator_fault=0.2,
    night_trips=0.2, vibration_rising=0.05, sensor_stuck=0.05,
)  # fmt: skip
"""Every kind of fault often enough to be scored in a few days of the demo community."""
Stamped = tuple[datetime, str, Row]
"""A device's message as (time, table, row)."""


@dataclass(frozen=True)
class Simulated:
    """Days of one community: its rows as frames, its registry, and the injected faults."""

    frames: Frames
    kinds: dict[str, Kind]
    rated_kw: dict[str, float]
    labels: list[Label]
    start: datetime
    end: datetime
    spaces: dict[str, Space]  # parking sensors: community, type and hours
    gates_of: dict[str, str]  # gate -> community

    @property
    def device_days(self) -> float:
        return len(self.kinds) * (self.end - self.start) / timedelta(days=1)


def simulate(
    days: int,
    seed: int = 5,
    rates: FaultRates = RATES,
    community: str = "demo",
    start: datetime = START,
    *,
    judge: bool = True,
) -> Simulated:
    """`days` days of `community` from `start`, faults drawn at `rates`; `judge`: see `of_run`."""
    definition = load_community(resolve(community))
    return of_run(Simulation([definition], start, start + timedelta(days=days), seed, rates), judge=judge)


def of_run(sim: Simulation, *, judge: bool = True) -> Simulated:
    """A run of one community with an end, made in memory, its faults replayed to see which showed
    (`judge`; without, every label counts as manifested: for runs whose labels are not scored)."""
    (definition,) = sim.communities
    if sim.end is None:
        raise ValueError("an evaluation needs a run with an end")
    rows: list[tuple[str, Row]] = []
    by_device: dict[str, list[Stamped]] = defaultdict(list)
    for ts, table, row in _stamped(sim):
        rows.append((table, row))
        by_device[row[0]].append((ts, table, row))
    labels = []
    for lb in sim.labels:
        label = Label(lb.device_id, lb.fault_type, lb.start, lb.end, lb.silent)
        if judge:
            label = replace(
                label, manifested=manifested(sim, lb, label.span(sim.end), by_device[lb.device_id])
            )
        labels.append(label)
    return Simulated(
        frames=frames(rows),
        kinds={d[0]: d[1] for d in definition.devices()},
        rated_kw={definition.full_id(c.id): c.max_kw for c in definition.chargers},
        labels=labels,
        start=sim.start,
        end=sim.end,
        spaces={
            definition.full_id(sp.id): Space(
                definition.id, sp.space_type, [w.model_dump() for w in sp.availability]
            )
            for sp in definition.spaces
        },
        gates_of={definition.full_id(g.id): definition.id for g in definition.gates},
    )


def manifested(
    sim: Simulation, fault: FaultLabel, span: tuple[datetime, datetime], rows: Iterable[Stamped]
) -> bool:
    """Whether the device's rows in `span` differ from a replay of the same run without the fault.

    The span is where a detection is credited to the fault (a minute before it to `GRACE` after
    its end), so it also holds effects that outlast a fault a little: the first honest reading of a
    stuck meter or sensor. A replay repeats a device exactly (tests/simulators/test_schedule.py), so
    equal rows mean the fault changed nothing a detector could see.
    """
    lo, hi = span

    def inside(of: Iterable[Stamped]) -> list[tuple[str, Row]]:
        return [(table, row) for ts, table, row in takewhile(lambda r: r[0] <= hi, of) if ts >= lo]

    return inside(rows) != inside(_stamped(sim.replay(fault.device_id, without=fault)))


def _stamped(emissions: Iterable[Emission]) -> Iterator[Stamped]:
    """(time, table, row) as ingest would store each message."""
    for e in emissions:
        table = DEVICE_TABLES[(e.kind, e.channel)]
        yield e.ts, table.name, table.row(e.device_id, e.payload)


def history(sim: Simulated, days: int = 3, seed: int = 6) -> Simulated:
    """The days before `sim` at the usual (low) fault rates: what learned detectors fit on (its
    labels are not scored, so its faults are not replayed)."""
    return simulate(days, seed=seed, rates=FaultRates(), start=sim.start - timedelta(days=days), judge=False)


def joined(past: Simulated, sim: Simulated) -> Frames:
    """Both runs' rows, so that features at the start of `sim` see the days before it."""
    return {t: pd.concat([f for f in (past.frames.get(t), sim.frames.get(t)) if f is not None]) for t in
            set(past.frames) | set(sim.frames)}  # fmt: skip


@dataclass(frozen=True)
class Scored:
    """An evaluation of the rules and the learned detectors on simulated days."""

    seed: int
    sim: Simulated
    detections: list[Detection]
    evaluation: Evaluation  # on the faults that manifested
    evaluation_all: Evaluation  # on every injected fault


def score(
    days: int, seed: int = 5, detectors: dict[Kind, str] | None = None, with_learned: bool = True
) -> Scored:
    """Rules over `days` simulated days, plus the learned detectors fitted on the days before."""
    sim = simulate(days, seed)
    limits = rules.Limits()
    found = rules.detect(sim.frames, sim.kinds, sim.rated_kw, sim.end, limits)
    found += occupancy.stuck_sensors(sim.frames, sim.spaces, sim.gates_of, limits)
    if with_learned:
        past = history(sim)
        models = learned.fit_all(past.frames, detectors)
        found += learned.detect(joined(past, sim), models, sim.start)
    manifested_only, every_fault = (
        evaluate(found, sim.labels, sim.end, sim.device_days, only_manifested=only) for only in (True, False)
    )
    return Scored(seed, sim, found, manifested_only, every_fault)
