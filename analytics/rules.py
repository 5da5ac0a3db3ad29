"""Exact rules over device data: fault events, offline and silent devices, limits broken.

Each rule reads data frames with the columns of the device hypertables (core/db/tables.py), so the
same code runs on rows read from TimescaleDB and on a simulation held in memory, and returns
episodes (Detection). Thresholds live in `Limits`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from analytics.models import Detection, Severity
from core.config import Settings
from core.contract.topics import Kind

Frames = dict[str, pd.DataFrame]
"""Rows per device table (e.g. "elevator_events"), columns as in the hypertable, ts as UTC."""

LOCAL_OFFSET = timedelta(hours=8)  # the communities' wall clock (China has one zone, no DST)

ELEVATOR_SEVERITY: dict[str, Severity] = {
    "entrapment": "critical", "alarm_button": "critical", "door_open_moving": "critical",
    "overspeed": "critical", "stop_outside_door_zone": "critical", "overrun_top": "critical",
    "overrun_bottom": "critical", "power_loss": "major", "abnormal_vibration": "major",
    "repeated_door_cycling": "minor",
}  # fmt: skip
"""Elevator fault events by GB/T 24476 category: people at risk first."""


@dataclass(frozen=True)
class Limits:
    """Thresholds of the rules (defaults suit the contract's devices)."""

    charger_temperature_c: float = 50.0
    charger_temperature_clear_c: float = 45.0
    power_spike_factor: float = 1.5  # times the charger's rated power
    meter_stuck_after: timedelta = timedelta(minutes=10)
    battery_low_pct: float = 10.0
    flaps: int = 6  # occupancy changes ...
    flap_window: timedelta = timedelta(minutes=30)  # ... within this long
    night_trips: int = 4  # trips in an hour between 00:30 and 04:00
    # A locker reading more compartments full than its deposits and pickups explain: two at once,
    # because one lost or late event (or a reading taken between door and event) shifts the count
    # by one; held for half an hour, three readings at the usual 10-minute cadence, so a race
    # between a reading and an event (corrected by the next reading) never opens one.
    phantom_compartments: int = 2
    phantom_for: timedelta = timedelta(minutes=30)
    phantom_baseline: timedelta = timedelta(hours=24)  # the count's lowest level in this long is normal
    # A parking sensor stuck reading occupied (analytics/occupancy.py): a car reaches its space
    # within `stuck_lead` of the gate (and leaves it as long before going out); a change undone
    # within `stuck_hold` is a flapping sensor, not a car, and one first read after more than
    # `stuck_gap_periods` heartbeats without a reading happened at some unknown time. A space
    # still not reading free `stuck_late` after its car went out missed it; a car out again
    # within `stuck_min_stay` may not have parked at all. A new occupancy must read on for
    # `stuck_confirm`. A plate's home is the space seen with it at least `stuck_home_passages`
    # times and in `stuck_home_share` of its passages. A gate silent for `stuck_gate_silence` may
    # have missed cars. Opening hours end `stuck_grace` before a car is out of hours; a space
    # open to visitors at all hours holds none for `stuck_max_stay` (an overnight guest included).
    stuck_lead: timedelta = timedelta(minutes=5)
    stuck_hold: timedelta = timedelta(minutes=10)
    stuck_gap_periods: float = 1.5
    stuck_late: timedelta = timedelta(minutes=10)
    stuck_min_stay: timedelta = timedelta(minutes=15)
    stuck_confirm: timedelta = timedelta(hours=1)
    stuck_quiet: timedelta = timedelta(hours=1)
    stuck_home_passages: int = 3
    stuck_home_share: float = 0.4
    stuck_gate_silence: timedelta = timedelta(minutes=15)
    stuck_grace: timedelta = timedelta(hours=1)
    stuck_max_stay: timedelta = timedelta(hours=12)
    stuck_history: timedelta = timedelta(days=3)  # what the online check reads (homes need days)
    # where opening hours are read (the API's setting: KPI days and report months begin there too)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(Settings.model_fields["api_timezone"].default))
    silent_periods: float = 3.0  # expected periods without a message before a device is silent
    # a parcel not picked up after this long is overdue (the API's setting, the one copy)
    parcel_overdue: timedelta = timedelta(hours=Settings.model_fields["api_parcel_overdue_hours"].default)
    heartbeat: dict[Kind, timedelta] = field(
        default_factory=lambda: {
            Kind.PARKING_SPACE: timedelta(minutes=30),
            Kind.PARKING_GATE: timedelta(minutes=10),
            Kind.EV_CHARGER: timedelta(minutes=5),
            Kind.PARCEL_LOCKER: timedelta(minutes=10),
            Kind.ELEVATOR: timedelta(minutes=5),
        }
    )


Row = Mapping[str, Any]  # one row of a frame, as a dict


def _frame(frames: Frames, table: str) -> pd.DataFrame:
    df = frames.get(table)
    return df.sort_values(["device_id", "ts"]) if df is not None and len(df) else pd.DataFrame()


def _episodes(
    df: pd.DataFrame,
    opens: Callable[[Row], str | None],
    closes: Callable[[Row, str], bool],
    make: Callable[[str, str, datetime, datetime, datetime | None, Row], Detection],
    may_open: pd.Series | None = None,
) -> Iterator[Detection]:
    """Walk each device's rows in time order: a row may open an episode (naming its key), a later
    row close it; an episode still open at the end has no clearing time. `may_open` (a mask of
    the rows that could open one) skips the devices that have none."""
    if may_open is not None:
        df = df[df["device_id"].isin(df.loc[may_open, "device_id"].unique())]
    # plain dicts, converted once (a tenth of iterrows' cost); the frame is sorted by device and ts
    for device_id, rows in itertools.groupby(df.to_dict("records"), key=itemgetter("device_id")):
        open_: dict[str, tuple[datetime, Row]] = {}
        last: Any = None
        for row in rows:
            last = row["ts"]
            for key, (start, first) in list(open_.items()):
                if closes(row, key):
                    del open_[key]
                    yield make(str(device_id), key, start, row["ts"], row["ts"], first)
            opened = opens(row)
            if opened is not None and opened not in open_:
                open_[opened] = (row["ts"], row)
        for key, (start, first) in open_.items():
            yield make(str(device_id), key, start, last, None, first)


def fault_events(frames: Frames) -> Iterator[Detection]:
    """Every fault the contract names, from its event to the matching `fault_cleared`."""
    specs: list[tuple[str, str, str, Severity]] = [
        ("ev_charger_events", "code", "charger_fault", "major"),
        ("parking_gate_events", "code", "gate_fault", "major"),
        ("parcel_locker_events", "code", "locker_fault", "minor"),
    ]
    for table, detail, type_, severity in specs:
        df = _frame(frames, table)
        if df.empty:
            continue

        def opens(r: Row, detail: str = detail) -> str | None:
            return str(r[detail]) if r["event"] == "fault" else None

        def make(dev: str, key: str, a: datetime, b: datetime, c: datetime | None, row: Row,
                 type_: str = type_, severity: Severity = severity) -> Detection:  # fmt: skip
            return Detection(dev, type_, "rule:event", severity, a, b, c, f"device reported fault {key}")

        yield from _episodes(df, opens, lambda r, k: r["event"] == "fault_cleared", make)
    lifts = _frame(frames, "elevator_events")
    if not lifts.empty:
        yield from _episodes(
            lifts,
            lambda r: str(r["fault"]) if r["event"] == "fault" else None,
            lambda r, k: r["event"] == "fault_cleared" and r["fault"] == k,
            lambda dev, k, a, b, c, row: Detection(
                dev,
                k,
                "rule:event",
                ELEVATOR_SEVERITY.get(k, "major"),
                a,
                b,
                c,
                f"elevator reported {k} at floor {row.get('to_floor') or '?'}",
            ),
        )
    lockers = _frame(frames, "parcel_locker_events")
    if not lockers.empty:
        yield from _episodes(
            lockers,
            lambda r: str(int(r["compartment"])) if r["event"] == "door_left_open" else None,
            lambda r, k: r["event"] == "door_closed" and str(int(r["compartment"])) == k,
            lambda dev, k, a, b, c, row: Detection(
                dev, "door_left_open", "rule:event", "minor", a, b, c, f"compartment {k} left open"
            ),
        )


def offline(frames: Frames) -> Iterator[Detection]:
    """A device that said (or whose will said) `offline`, until it is back online."""
    df = _frame(frames, "device_status")
    if df.empty:
        return
    yield from _episodes(
        df,
        lambda r: "offline" if r["state"] == "offline" else None,
        lambda r, k: r["state"] == "online",
        lambda dev, k, a, b, c, row: Detection(
            dev, "offline", "rule:status", "major", a, b, c, "the device reported going offline"
        ),
    )


def silent(frames: Frames, kinds: dict[str, Kind], end: datetime, limits: Limits) -> Iterator[Detection]:
    """No message for `silent_periods` times the kind's heartbeat (unless it said it went offline)."""
    stamps = [df[["device_id", "ts"]] for df in frames.values() if len(df)]
    if not stamps:
        return
    said_offline = {d.device_id: d for d in offline(frames)}
    every = pd.concat(stamps).sort_values(["device_id", "ts"])
    allowed = every["device_id"].map(
        {d: limits.heartbeat[k] * limits.silent_periods for d, k in kinds.items()}
    )
    after = every.groupby("device_id", sort=False)["ts"].shift(-1).fillna(pd.Timestamp(end))
    gaps = every.assign(after=after, allowed=allowed)
    gaps = gaps[gaps["allowed"].notna() & (gaps["after"] - gaps["ts"] > gaps["allowed"])]
    for device_id, before, after_, allowed_ in gaps[["device_id", "ts", "after", "allowed"]].itertuples(
        index=False
    ):
        episode_start = before + allowed_
        known = said_offline.get(str(device_id))
        if known and known.first_seen <= episode_start <= (known.cleared_at or end):
            continue
        cleared = after_ if after_ < end else None
        heartbeat = limits.heartbeat[kinds[str(device_id)]]
        yield Detection(
            str(device_id), "silent", "rule:heartbeat", "major", episode_start, after_, cleared,
            f"no message for {(after_ - before).total_seconds() / 60:.0f} min "
            f"(heartbeat every {heartbeat.total_seconds() / 60:.0f} min)",
        )  # fmt: skip


def chargers(frames: Frames, rated_kw: dict[str, float], limits: Limits) -> Iterator[Detection]:
    """Over-temperature, power above the rating, the meter going backwards or standing still."""
    df = _frame(frames, "ev_charger_telemetry")
    if df.empty:
        return
    yield from _episodes(
        df,
        lambda r: "hot" if r["temperature_c"] > limits.charger_temperature_c else None,
        lambda r, k: r["temperature_c"] < limits.charger_temperature_clear_c,
        lambda dev, k, a, b, c, row: Detection(
            dev,
            "charger_overheat",
            "rule:limit",
            "major",
            a,
            b,
            c,
            f"enclosure at {row['temperature_c']:.1f} °C, limit {limits.charger_temperature_c:.0f} °C",
        ),
        may_open=df["temperature_c"] > limits.charger_temperature_c,
    )
    for device_id, rows in df.groupby("device_id", sort=False):
        dev, rated = str(device_id), rated_kw.get(str(device_id))
        energy, power, ts = rows["energy_kwh"].to_numpy(), rows["power_kw"].to_numpy(), list(rows["ts"])
        boot = rows["boot"].to_numpy()
        stuck_since = None
        for i in range(len(rows)):
            if rated and power[i] > rated * limits.power_spike_factor:
                yield Detection(
                    dev,
                    "power_spike",
                    "rule:limit",
                    "minor",
                    ts[i],
                    ts[i],
                    None,
                    f"{power[i]:.1f} kW on a {rated:.0f} kW charger",
                )
            if i == 0 or boot[i] != boot[i - 1]:
                continue
            if energy[i] < energy[i - 1] - 0.01:
                yield Detection(
                    dev,
                    "meter_backwards",
                    "rule:meter",
                    "major",
                    ts[i],
                    ts[i],
                    None,
                    f"meter fell from {energy[i - 1]:.2f} to {energy[i]:.2f} kWh",
                )
            if power[i] > 0.5 and energy[i] == energy[i - 1]:
                stuck_since = stuck_since or ts[i - 1]
                if ts[i] - stuck_since >= limits.meter_stuck_after:
                    yield Detection(
                        dev,
                        "meter_stuck",
                        "rule:meter",
                        "major",
                        ts[i],
                        ts[i],
                        None,
                        f"meter at {energy[i]:.2f} kWh while drawing {power[i]:.1f} kW",
                    )
                    stuck_since = ts[i]  # one detection per stretch; the alarm store merges them
            elif energy[i] != energy[i - 1]:
                stuck_since = None


def parking(frames: Frames, limits: Limits) -> Iterator[Detection]:
    """Low batteries and sensors flapping between occupied and free."""
    df = _frame(frames, "parking_space_telemetry")
    if df.empty:
        return
    yield from _episodes(
        df,
        lambda r: "low" if r["battery_pct"] < limits.battery_low_pct else None,
        lambda r, k: r["battery_pct"] >= limits.battery_low_pct + 5,
        lambda dev, k, a, b, c, row: Detection(
            dev, "low_battery", "rule:limit", "minor", a, b, c, f"battery at {row['battery_pct']:.0f}%"
        ),
        may_open=df["battery_pct"] < limits.battery_low_pct,
    )
    previous = df.groupby("device_id", sort=False)["occupied"].shift()
    changes = df[previous.notna() & df["occupied"].ne(previous)]
    counts = changes["device_id"].value_counts()
    restless = changes[changes["device_id"].isin(counts.index[counts >= limits.flaps])]
    for device_id, rows in restless.groupby("device_id", sort=False):
        times = list(rows["ts"])
        for i in range(len(times) - limits.flaps + 1):
            if times[i + limits.flaps - 1] - times[i] <= limits.flap_window:
                yield Detection(
                    str(device_id),
                    "sensor_flapping",
                    "rule:pattern",
                    "minor",
                    times[i],
                    times[i + limits.flaps - 1],
                    None,
                    f"{limits.flaps} changes within {limits.flap_window}",
                )


def night_trips(frames: Frames, limits: Limits) -> Iterator[Detection]:
    """An elevator running again and again in the small hours (00:30 to 04:00 local time)."""
    df = _frame(frames, "elevator_events")
    if df.empty:
        return
    trips = df[df["event"] == "trip"]
    local = trips["ts"] + LOCAL_OFFSET
    minutes = local.dt.hour * 60 + local.dt.minute
    night = trips[(minutes >= 30) & (minutes < 240)]
    for device_id, rows in night.groupby("device_id", sort=False):
        times = list(rows["ts"])
        for i in range(len(times) - limits.night_trips + 1):
            if times[i + limits.night_trips - 1] - times[i] <= timedelta(hours=1):
                yield Detection(
                    str(device_id),
                    "night_trips",
                    "rule:pattern",
                    "warning",
                    times[i],
                    times[i + limits.night_trips - 1],
                    None,
                    f"{limits.night_trips} trips within an hour at night",
                )


def moving_with_door_open(frames: Frames) -> Iterator[Detection]:
    """An elevator whose running status says it moves with its door open (a car that does not
    report the GB/T fault itself still shows it in its telemetry)."""
    df = _frame(frames, "elevator_telemetry")
    if df.empty:
        return
    yield from _episodes(
        df,
        lambda r: "open" if r["direction"] != "idle" and r["door"] == "open" else None,
        lambda r, k: r["direction"] == "idle" or r["door"] == "closed",
        lambda dev, k, a, b, c, row: Detection(
            dev,
            "door_open_moving",
            "rule:telemetry",
            "critical",
            a,
            b,
            c,
            f"running {row['direction']} at floor {row['floor']} with the door open",
        ),
        may_open=(df["direction"] != "idle") & (df["door"] == "open"),
    )


def lockers(frames: Frames, limits: Limits) -> Iterator[Detection]:
    """Compartments that read full with no deposit to explain it (a compartment's sensor fault).

    Between two readings, the change of `compartments_occupied` should equal the deposits minus
    the pickups reported in between; what it does not explain is summed per locker. Only changes
    are compared, so a window starting with parcels already waiting needs no inventory; the sum's
    lowest level over `phantom_baseline` is taken as normal, so that one lost event is forgotten
    within a day instead of shifting the count for good."""
    tele = _frame(frames, "parcel_locker_telemetry")
    if tele.empty:
        return
    tele = tele.reset_index(drop=True).assign(reading=lambda df: df.index)
    events = _frame(frames, "parcel_locker_events")
    net = pd.Series(0.0, index=tele.index)
    if not events.empty:
        moves = events[events["event"].isin(["deposit", "pickup"])].sort_values("ts")
        # an event before a locker's first reading has no earlier reading to be compared with
        moves = moves[moves["ts"] > moves["device_id"].map(tele.groupby("device_id")["ts"].min())]
        # each event counts towards the first reading at or after it
        owner = pd.merge_asof(
            moves[["device_id", "ts", "event"]], tele[["device_id", "ts", "reading"]].sort_values("ts"),
            on="ts", by="device_id", direction="forward",
        ).dropna(subset=["reading"])  # fmt: skip
        # astype: where no event has a reading after it, `map` of nothing gives an object column,
        # and the sums below would then fail to add up
        sign = owner["event"].map({"deposit": 1.0, "pickup": -1.0}).astype(float)
        net = sign.groupby(owner["reading"].astype(int)).sum().reindex(tele.index, fill_value=0.0)
    step = tele.groupby("device_id", sort=False)["compartments_occupied"].diff().fillna(0.0)
    drift = (step - net).groupby(tele["device_id"], sort=False).cumsum()
    # the frame is sorted by device and ts, so the groups' rolling minima come back in its order
    floor = drift.to_frame("drift").assign(ts=tele["ts"], device_id=tele["device_id"])
    floor = floor.groupby("device_id", sort=False).rolling(limits.phantom_baseline, on="ts")["drift"].min()
    excess = (drift - floor.to_numpy()).round().astype(int)
    tele = tele.assign(excess=excess, high=excess >= limits.phantom_compartments)
    for device_id, rows in tele[tele["device_id"].isin(tele.loc[tele["high"], "device_id"])].groupby(
        "device_id", sort=False
    ):
        since: Any = None
        peak = 0
        for ts, high, n in rows[["ts", "high", "excess"]].itertuples(index=False):
            if high:
                peak = max(peak, n) if since is not None else n
                since = ts if since is None else since
                continue
            if since is not None and ts - since >= limits.phantom_for:
                yield _phantom(str(device_id), since, ts, ts, peak)
            since = None
        if since is not None and rows["ts"].iloc[-1] - since >= limits.phantom_for:
            yield _phantom(str(device_id), since, rows["ts"].iloc[-1], None, peak)


def _phantom(device_id: str, since: datetime, last: datetime, cleared: datetime | None, n: int) -> Detection:
    return Detection(
        device_id, "compartment_sensor_fault", "rule:pattern", "minor", since, last, cleared,
        f"{n} more compartments read full than deposits and pickups explain",
    )  # fmt: skip


def detect(
    frames: Frames, kinds: dict[str, Kind], rated_kw: dict[str, float], end: datetime, limits: Limits
) -> list[Detection]:
    """Every rule over the frames (data up to `end`)."""
    found = [
        *fault_events(frames), *offline(frames), *silent(frames, kinds, end, limits),
        *chargers(frames, rated_kw, limits), *parking(frames, limits), *night_trips(frames, limits),
        *moving_with_door_open(frames), *lockers(frames, limits),
    ]  # fmt: skip
    return sorted(found, key=lambda d: (d.first_seen, d.device_id, d.type))
