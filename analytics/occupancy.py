"""Parking sensors stuck reading occupied, found by what they contradict.

A stuck sensor's messages look exactly like a parked car's, so nothing in the sensor's own data
tells them apart (the learned detectors could not either). Three clues from elsewhere, each
rarely wrong on its own:

- Its car left. A plate's home is the space that turns occupied just after the plate comes in
  through a gate and free just before it goes out, most of the times it passes (residents park
  in their own space). A home that reads on as occupied after its plate went out, or already read
  occupied when its plate came back, has a sensor that missed the car leaving.
- No car came. A space turned occupied with no car through any of the community's gates in the
  minutes before, while every gate was reporting.
- Out of hours. A space with opening hours (an institution's car park at night, night-time street
  spaces) still occupied an hour after they ended, or a space open to visitors at all hours
  occupied for longer than any visit.

Changes are read as the sensor reports them; a change undone within `stuck_hold` (a flapping
sensor) is not a car. Every clue is judged within one community, against its own gates; a
community without gates gets only the last.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from analytics.frames import COLUMNS
from analytics.models import Detection
from analytics.parking.windows import expand
from analytics.rules import Frames, Limits

TYPE = "sensor_stuck"
DETECTOR = "rule:occupancy"
HOURS_TYPES = ("institutional", "street")  # their availability is opening hours (a resident's is absence)


@dataclass(frozen=True)
class Space:
    """What the registry says of a space's sensor: its community, type and availability rules."""

    community_id: str
    space_type: str
    availability: Sequence[Mapping[str, str]] = ()


@dataclass
class _Readings:
    """One sensor's readings, and its changes that held (a car arriving or leaving)."""

    ts: list[datetime]
    occupied: list[bool]
    changes: list[datetime] = field(default_factory=list)  # every change, held or not
    arrivals: list[datetime] = field(default_factory=list)  # changes to occupied that held
    departures: list[datetime] = field(default_factory=list)

    def state_at(self, t: datetime) -> bool | None:
        i = bisect_right(self.ts, t)
        return self.occupied[i - 1] if i else None

    def occupied_through(self, lo: datetime, hi: datetime) -> bool:
        """At least two readings in (lo, hi], all occupied."""
        i, j = bisect_right(self.ts, lo), bisect_right(self.ts, hi)
        return j - i >= 2 and all(self.occupied[i:j])

    def free_after(self, t: datetime) -> datetime | None:
        i = bisect_right(self.ts, t)
        while i < len(self.ts) and self.occupied[i]:
            i += 1
        return self.ts[i] if i < len(self.ts) else None


def stuck_sensors(
    frames: Frames, spaces: Mapping[str, Space], gates_of: Mapping[str, str], limits: Limits
) -> Iterator[Detection]:
    """Every clue over the frames, community by community (`gates_of`: gate device -> community)."""
    tele = frames.get("parking_space_telemetry")
    if tele is None or tele.empty:
        return
    gates, beats = _table(frames, "parking_gate_events"), _table(frames, "parking_gate_telemetry")
    sensors = _readings(tele[tele["device_id"].isin(spaces.keys())], limits)
    by_community: dict[str, dict[str, _Readings]] = defaultdict(dict)
    for device_id, sensor in sensors.items():
        by_community[spaces[device_id].community_id][device_id] = sensor
    for community_id, readings in by_community.items():
        mine = [g for g, c in gates_of.items() if c == community_id]
        if mine:
            passages = gates[gates["device_id"].isin(mine)]
            heard = pd.concat([passages, beats[beats["device_id"].isin(mine)]])[["device_id", "ts"]]
            yield from _car_left(passages, readings, limits)
            yield from _no_car_came(passages, heard, readings, limits)
        yield from _out_of_hours(readings, spaces, limits)


def _table(frames: Frames, name: str) -> pd.DataFrame:
    found = frames.get(name)
    return found if found is not None else pd.DataFrame(columns=list(COLUMNS[name]))


def _readings(tele: pd.DataFrame, limits: Limits) -> dict[str, _Readings]:
    out = {}
    for device_id, rows in tele.sort_values(["device_id", "ts"]).groupby("device_id", sort=False):
        ts, occupied = list(rows["ts"]), [bool(o) for o in rows["occupied"]]
        r = _Readings(ts, occupied)
        changes = [i for i in range(1, len(ts)) if occupied[i] != occupied[i - 1]]
        r.changes = [ts[i] for i in changes]
        for n, i in enumerate(changes):
            following = ts[changes[n + 1]] if n + 1 < len(changes) else None
            if following is None or following - ts[i] >= limits.stuck_hold:
                (r.arrivals if occupied[i] else r.departures).append(ts[i])
        out[str(device_id)] = r
    return out


def _passages(gates: pd.DataFrame) -> list[tuple[datetime, str, str]]:
    rows = gates[gates["event"] == "passage"].sort_values("ts")
    return list(zip(rows["ts"], rows["direction"], rows["plate_hash"], strict=True))


def _car_left(gates: pd.DataFrame, readings: Mapping[str, _Readings], limits: Limits) -> Iterator[Detection]:
    lead = limits.stuck_lead
    arrivals = sorted((t, d) for d, r in readings.items() for t in r.arrivals)
    departures = sorted((t, d) for d, r in readings.items() for t in r.departures)
    arrival_ts, departure_ts = [a[0] for a in arrivals], [d[0] for d in departures]

    def near(t: datetime, direction: str) -> set[str]:
        if direction == "in":  # the car reaches its space within `lead` of the gate ...
            lo, hi = bisect_right(arrival_ts, t), bisect_right(arrival_ts, t + lead)
            return {arrivals[i][1] for i in range(lo, hi)}
        lo, hi = bisect_left(departure_ts, t - lead), bisect_left(departure_ts, t)  # ... and leaves it
        return {departures[i][1] for i in range(lo, hi)}

    passages = _passages(gates)
    passed: Counter[str] = Counter()
    together: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for t, direction, plate in passages:
        passed[plate] += 1
        together[plate].update(near(t, direction))
    home: dict[str, str] = {}
    for plate, seen_with in together.items():
        (best, n), *rest = [*seen_with.most_common(2), ("", 0)]
        often = n >= limits.stuck_home_passages and n >= limits.stuck_home_share * passed[plate]
        if often and n >= 2 * rest[0][1]:
            home[plate] = best
    confirm = limits.stuck_confirm
    for t, direction, plate in passages:
        space = home.get(plate)
        if space is None or space in near(t, direction):
            continue
        r = readings[space]
        if direction == "out" and r.state_at(t - lead) and r.occupied_through(t, t + confirm):
            why = f"its car went out through the gate at {t:%H:%M}, and it still reads occupied"
        elif direction == "in" and r.state_at(t) and r.occupied_through(t, t + confirm):
            why = f"it read occupied while its car was out (the car came back through the gate at {t:%H:%M})"
        else:
            continue
        yield Detection(space, TYPE, DETECTOR, "minor", t + confirm, t + confirm, r.free_after(t), why)


def _no_car_came(
    gates: pd.DataFrame, heard: pd.DataFrame, readings: Mapping[str, _Readings], limits: Limits
) -> Iterator[Detection]:
    lead, confirm, quiet = limits.stuck_lead, limits.stuck_confirm, limits.stuck_quiet
    ins = sorted(gates.loc[(gates["event"] == "passage") & (gates["direction"] == "in"), "ts"])
    faults = _gate_faults(gates)
    every = {g: sorted(rows["ts"]) for g, rows in heard.groupby("device_id")}

    def gates_reporting(t: datetime) -> bool:
        for seen in every.values():
            i = bisect_left(seen, t - limits.stuck_gate_silence)
            if i >= len(seen) or seen[i] > t + limits.stuck_gate_silence:
                return False
        return not any(a - lead <= t and (b is None or t <= b + lead) for a, b in faults)

    for device_id, r in readings.items():
        for t in r.arrivals:
            i = bisect_left(r.changes, t)
            before = r.changes[i - 1] if i else None
            after = r.changes[i + 1] if i + 1 < len(r.changes) else None
            if (before is not None and t - before < quiet) or (after is not None and after - t < confirm):
                continue  # a restless sensor, or a short stay: not this clue's business
            k = bisect_left(ins, t - lead)
            if (k < len(ins) and ins[k] <= t) or not gates_reporting(t):
                continue
            yield Detection(device_id, TYPE, DETECTOR, "minor", t + confirm, t + confirm, after,
                            f"it turned occupied at {t:%H:%M} with no car through the gate")  # fmt: skip


def _gate_faults(gates: pd.DataFrame) -> list[tuple[datetime, datetime | None]]:
    """When each gate said it was faulty (it may miss cars then); None: not cleared yet."""
    spans: list[tuple[datetime, datetime | None]] = []
    rows = gates[gates["event"].isin(["fault", "fault_cleared"])].sort_values("ts")
    for _, events in rows.groupby("device_id"):
        opened = None
        for t, event in zip(events["ts"], events["event"], strict=True):
            if event == "fault":
                opened = opened or t
            elif opened is not None:
                spans.append((opened, t))
                opened = None
        if opened is not None:
            spans.append((opened, None))
    return spans


def _out_of_hours(
    readings: Mapping[str, _Readings], spaces: Mapping[str, Space], limits: Limits
) -> Iterator[Detection]:
    for device_id, r in readings.items():
        space = spaces[device_id]
        if space.space_type == "resident" or not r.ts:
            continue  # an owner's car may stand there at any hour
        hours = space.availability if space.space_type in HOURS_TYPES else ()
        origin = r.ts[0]
        windows = expand(
            hours, origin.astimezone(limits.zone), int((r.ts[-1] - origin) / timedelta(minutes=1)) + 1
        )
        since: datetime | None = None
        flagged = False
        for t, occupied in zip(r.ts, r.occupied, strict=True):
            if not occupied:
                since, flagged = None, False
                continue
            since = since or t
            if flagged:
                continue  # one detection per stay; the alarm store extends it
            if hours:
                minute = int((t - origin) / timedelta(minutes=1))
                ended = [end for start, end in windows if end <= minute]
                closed_at = origin + timedelta(minutes=ended[-1]) if ended else None
                still_open = any(start <= minute < end for start, end in windows)
                if (
                    still_open
                    or closed_at is None
                    or closed_at <= since
                    or t - closed_at < limits.stuck_grace
                ):
                    continue
                why = f"occupied since {since:%H:%M}, {t - closed_at} after its hours ended"
            elif t - since >= limits.stuck_max_stay:
                why = f"occupied since {since:%m-%d %H:%M}, longer than any visit"
            else:
                continue
            yield Detection(device_id, TYPE, DETECTOR, "minor", t, t, r.free_after(t), why)
            flagged = True
