"""Parking sensors stuck reading occupied, found by what they contradict.

A stuck sensor's messages look exactly like a parked car's, so nothing in the sensor's own data
tells them apart (the learned detectors could not either). Three clues from elsewhere, each
rarely wrong on its own:

- Its car left. Each gate passage is matched to the space that changed with it (`_Traffic`):
  a car's space is the one that turned occupied just after it came in and free just before it
  went out, or its plate's home (residents park in their own space; a plate's home is the space
  that changes with it most of the times it passes). A space that reads on as occupied after its
  car went out, or already read occupied when its resident's car came back, missed the car leaving.
- No car came. A space turned occupied with no car through any of the community's gates in the
  minutes before that could have parked there (a car whose passage is matched to another space
  does not count), while every gate was reporting.
- Out of hours. A space with opening hours (an institution's car park at night, night-time street
  spaces) still occupied an hour after they ended, or a space open to visitors at all hours
  occupied for longer than any visit.

Changes are read as the sensor reports them; a change undone within `stuck_hold` (a flapping
sensor) is not a car, nor is one first read after a gap in the sensor's readings. Every clue is
judged within one community, against its own gates; a community without gates gets only the last.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

import pandas as pd

from analytics.frames import COLUMNS
from analytics.models import Detection
from analytics.parking.windows import expand
from analytics.rules import Frames, Limits
from core.contract.topics import Kind

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

    def heard_through(self, lo: datetime, hi: datetime, gap: timedelta) -> datetime | None:
        """The first reading at or after hi, if the sensor was heard all along from its last
        reading at or before lo (no two readings more than `gap` apart)."""
        i, j = bisect_right(self.ts, lo) - 1, bisect_left(self.ts, hi)
        if i < 0 or j >= len(self.ts):
            return None
        return self.ts[j] if all(b - a <= gap for a, b in pairwise(self.ts[i : j + 1])) else None

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
            traffic = _Traffic(passages, readings, limits)
            yield from _car_left(traffic, limits)
            yield from _no_car_came(traffic, passages, heard, limits)
        yield from _out_of_hours(readings, spaces, limits)


def _table(frames: Frames, name: str) -> pd.DataFrame:
    found = frames.get(name)
    return found if found is not None else pd.DataFrame(columns=list(COLUMNS[name]))


def _readings(tele: pd.DataFrame, limits: Limits) -> dict[str, _Readings]:
    """Each sensor's readings; a change counts as a car only if it held (not a flap) and was seen
    as it happened: one that first shows after a gap (a silent or muted sensor, a lost link)
    happened at some unknown time within it."""
    gap = limits.heartbeat[Kind.PARKING_SPACE] * limits.stuck_gap_periods
    out = {}
    for device_id, rows in tele.sort_values(["device_id", "ts"]).groupby("device_id", sort=False):
        ts, occupied = list(rows["ts"]), [bool(o) for o in rows["occupied"]]
        r = _Readings(ts, occupied)
        changes = [i for i in range(1, len(ts)) if occupied[i] != occupied[i - 1]]
        r.changes = [ts[i] for i in changes]
        for n, i in enumerate(changes):
            following = ts[changes[n + 1]] if n + 1 < len(changes) else None
            held = following is None or following - ts[i] >= limits.stuck_hold
            if held and ts[i] - ts[i - 1] <= gap:
                (r.arrivals if occupied[i] else r.departures).append(ts[i])
        out[str(device_id)] = r
    return out


Change = tuple[datetime, str]
"""A car arriving at or leaving a space: (when the sensor saw it, the space's sensor)."""


class _Traffic:
    """One community's gate passages matched to its sensors' arrivals and departures.

    A car reaches its space within `stuck_lead` after the gate, and leaves it as long before
    going out. Where several spaces changed in that time, a passage is resolved to the space its
    plate's whole stay agrees with (the one space that both took the car in and let it out), or to
    its plate's home; what is left unresolved is ambiguous and proves nothing.

    Written here: this is an assignment of gate reads to sensor changes that no library offers.
    """

    def __init__(self, gates: pd.DataFrame, readings: Mapping[str, _Readings], limits: Limits) -> None:
        self.readings, self.lead = readings, limits.stuck_lead
        self.arrivals = sorted((t, d) for d, r in readings.items() for t in r.arrivals)
        self.departures = sorted((t, d) for d, r in readings.items() for t in r.departures)
        self._arrival_ts = [a[0] for a in self.arrivals]
        self._departure_ts = [d[0] for d in self.departures]
        rows = gates[gates["event"] == "passage"].sort_values("ts")
        self.passages: list[tuple[datetime, str, str]] = list(
            zip(rows["ts"], rows["direction"], rows["plate_hash"], strict=True)
        )
        self.near = [self.changes_near(t, direction) for t, direction, _ in self.passages]
        self.home = self._homes(limits)
        self.stay_in: dict[int, int] = {}  # an out passage -> the same plate's in passage before it
        self.resolved: dict[int, Change] = {}  # a passage -> the change it caused
        self._resolve()
        self._taken = set(self.resolved.values())  # the changes some passage explains

    def changes_near(self, t: datetime, direction: str) -> list[Change]:
        """The arrivals within `lead` after a car came in, or the departures before it went out."""
        if direction == "in":
            lo, hi = bisect_right(self._arrival_ts, t), bisect_right(self._arrival_ts, t + self.lead)
            return self.arrivals[lo:hi]
        lo, hi = bisect_left(self._departure_ts, t - self.lead), bisect_left(self._departure_ts, t)
        return self.departures[lo:hi]

    def _homes(self, limits: Limits) -> dict[str, str]:
        """A plate's home: the space seen changing with it most of the times it passes."""
        passed: Counter[str] = Counter()
        together: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for (_, _, plate), near in zip(self.passages, self.near, strict=True):
            passed[plate] += 1
            together[plate].update({space for _, space in near})
        home: dict[str, str] = {}
        for plate, seen_with in together.items():
            (best, n), *rest = [*seen_with.most_common(2), ("", 0)]
            often = n >= limits.stuck_home_passages and n >= limits.stuck_home_share * passed[plate]
            if often and n >= 2 * rest[0][1]:
                home[plate] = best
        return home

    def _resolve(self) -> None:
        open_in: dict[str, int] = {}
        for k, (_, direction, plate) in enumerate(self.passages):
            if direction == "in":
                open_in[plate] = k
            elif plate in open_in:
                self.stay_in[k] = open_in.pop(plate)
        for k_out, k_in in self.stay_in.items():
            ins, outs = self.near[k_in], self.near[k_out]
            both = {s for _, s in ins} & {s for _, s in outs}
            if len(both) == 1:
                (space,) = both
                self.resolved[k_in] = next(c for c in ins if c[1] == space)
                self.resolved[k_out] = next(c for c in outs if c[1] == space)
        for k, (_, _, plate) in enumerate(self.passages):
            at_home = [c for c in self.near[k] if c[1] == self.home.get(plate)]
            if k not in self.resolved and at_home:
                self.resolved[k] = at_home[0]

    def parked(self, k_out: int, min_stay: timedelta) -> Change | None:
        """Where the car that went out through passage `k_out` had parked, if one space can say:
        of the arrivals after it came in, the only one no other car's passage resolved to, and no
        other car still unresolved may have caused."""
        k_in = self.stay_in.get(k_out)
        if k_in is None or self.passages[k_out][0] - self.passages[k_in][0] < min_stay:
            return None  # came in before the data began, or through and out again (a drop-off)
        if k_in in self.resolved:
            return self.resolved[k_in]
        left = [c for c in self.near[k_in] if c not in self._taken]  # (k_in itself is unresolved)
        if len(left) != 1:
            return None
        t = self.passages[k_in][0]
        lo, hi = bisect_left(self.passages, (t - self.lead,)), bisect_right(self.passages, (t + self.lead,))
        others = (k for k in range(lo, hi) if k != k_in and k not in self.resolved)
        rivals = (k for k in others if self.passages[k][1] == "in")
        return None if any(left[0] in self.near[k] for k in rivals) else left[0]


def _car_left(traffic: _Traffic, limits: Limits) -> Iterator[Detection]:
    """A car went out, and the space it had parked in (by its stay, or its plate's home) did not
    turn free before it; or a resident's car came back to a home already reading occupied."""
    for k, (t, direction, _) in enumerate(traffic.passages):
        if k in traffic.resolved:
            continue  # the car's change was seen where it should be
        found = _went_out(traffic, k, limits) if direction == "out" else _came_back(traffic, k, limits)
        if found is not None:
            space, seen, why = found
            free = traffic.readings[space].free_after(t)
            yield Detection(space, TYPE, DETECTOR, "minor", seen, seen, free, why)


def _went_out(traffic: _Traffic, k: int, limits: Limits) -> tuple[str, datetime, str] | None:
    """Still occupied when the car passed the gate, and no free reading for `stuck_late` after
    (a working sensor reports a change at once) while the sensor was heard all along."""
    t, _, plate = traffic.passages[k]
    stay = traffic.parked(k, limits.stuck_min_stay)
    space = stay[1] if stay else traffic.home.get(plate)
    if space is None:
        return None
    r = traffic.readings[space]
    if not r.state_at(t) or (stay and _departed(r, stay[0], t)):
        return None  # free already, or it left its space long before the gate (or it was not this one)
    gap = limits.heartbeat[Kind.PARKING_SPACE] * limits.stuck_gap_periods
    seen = r.heard_through(t, t + limits.stuck_late, gap)
    if seen is None or _departed(r, t - traffic.lead, t + limits.stuck_late):
        return None
    return space, seen, f"its car went out through the gate at {t:%H:%M}, and it still reads occupied"


def _came_back(traffic: _Traffic, k: int, limits: Limits) -> tuple[str, datetime, str] | None:
    t, _, plate = traffic.passages[k]
    space = traffic.home.get(plate)
    if space is None:
        return None
    r = traffic.readings[space]
    if not r.state_at(t) or not r.occupied_through(t, t + limits.stuck_confirm):
        return None
    why = f"it read occupied while its car was out (the car came back through the gate at {t:%H:%M})"
    return space, t + limits.stuck_confirm, why


def _departed(r: _Readings, lo: datetime, hi: datetime) -> bool:
    """The sensor read free at some moment in (lo, hi]."""
    i, j = bisect_right(r.ts, lo), bisect_right(r.ts, hi)
    return not all(r.occupied[i:j])


def _no_car_came(
    traffic: _Traffic, gates: pd.DataFrame, heard: pd.DataFrame, limits: Limits
) -> Iterator[Detection]:
    """A space turned occupied and no car came in just before that is not accounted for elsewhere."""
    lead, confirm, quiet = limits.stuck_lead, limits.stuck_confirm, limits.stuck_quiet
    ins = [(t, k) for k, (t, direction, _) in enumerate(traffic.passages) if direction == "in"]
    in_ts = [t for t, _ in ins]
    faults = _gate_faults(gates)
    every = {g: sorted(rows["ts"]) for g, rows in heard.groupby("device_id")}

    def gates_reporting(t: datetime) -> bool:
        for seen in every.values():
            i = bisect_left(seen, t - limits.stuck_gate_silence)
            if i >= len(seen) or seen[i] > t + limits.stuck_gate_silence:
                return False
        return not any(a - lead <= t and (b is None or t <= b + lead) for a, b in faults)

    for t, device_id in traffic.arrivals:
        r = traffic.readings[device_id]
        i = bisect_left(r.changes, t)
        before = r.changes[i - 1] if i else None
        after = r.changes[i + 1] if i + 1 < len(r.changes) else None
        if (before is not None and t - before < quiet) or (after is not None and after - t < confirm):
            continue  # a restless sensor, or a short stay: not this clue's business
        cars = ins[bisect_left(in_ts, t - lead) : bisect_left(in_ts, t)]
        if any(traffic.resolved.get(k, (t, device_id)) == (t, device_id) for _, k in cars):
            continue  # a car came in that may have parked here
        if not gates_reporting(t):
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
