"""One analytics cycle: read a window of device data, run the rules, record the alarms.

`run_once` serves the one-shot mode over any time range and both loops of the service: a fast
one (every second: fault events and statuses, so that an entrapment is an alarm within seconds)
and a slow one (every minute: telemetry limits, heartbeats, patterns). The learned detectors run
on their own schedule (`run_learned` every 15 minutes, as windows close; `fit_learned` every few
hours on a sample of each kind's devices).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import psycopg
from psycopg import sql

from analytics import features, learned, occupancy, rules, store
from analytics.frames import COLUMNS
from analytics.models import Detection
from analytics.queries import ANALYTICS
from core.contract.topics import Kind

# alarm types whose rule reads a history of its own below, longer than the slow cycle's window
OWN_HISTORY = ("silent", "compartment_sensor_fault")
HISTORIES_EVERY = timedelta(minutes=15)  # how often the rules reading days of history run
LOCKER_TABLES = ("parcel_locker_telemetry", "parcel_locker_events")
PARKING_TABLES = ("parking_space_telemetry", "parking_gate_events", "parking_gate_telemetry")
EVENT_TABLES = sorted(t for t in COLUMNS if t.endswith("_events") or t == "device_status")
FAST_DETECTORS = ["rule:event", "rule:status"]


@dataclass(frozen=True)
class Cycle:
    """What one cycle read and raised."""

    since: datetime
    until: datetime
    rows: int
    detections: int
    changed: int


def read(
    conn: psycopg.Connection, tables: Iterable[str], since: datetime, until: datetime,
    devices: list[str] | None = None,
) -> rules.Frames:  # fmt: skip
    """Rows of the tables with ts in [since, until) (of `devices` only, if given), as frames with
    the hypertables' columns."""
    out: rules.Frames = {}
    for table in tables:
        query = sql.SQL(ANALYTICS.rows_between if devices is None else ANALYTICS.rows_of_devices).format(
            columns=sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table])), table=sql.Identifier(table)
        )
        rows = conn.execute(query, (since, until) if devices is None else (since, until, devices)).fetchall()
        if rows:
            df = pd.DataFrame.from_records(rows, columns=list(COLUMNS[table]))
            df["ts"] = pd.to_datetime(df["ts"], utc=True)
            out[table] = df
    return out


def registry(conn: psycopg.Connection) -> tuple[dict[str, Kind], dict[str, float]]:
    """Each active device's kind, and each charger's rated power."""
    kinds = {r[0]: Kind(r[1]) for r in conn.execute(ANALYTICS.devices).fetchall()}
    rated = {r[0]: float(r[1]) for r in conn.execute(ANALYTICS.rated_power).fetchall()}
    return kinds, rated


Reader = Callable[[psycopg.Connection, Iterable[str], datetime, datetime], rules.Frames]
"""`read`, or a cycle's `Recent.frames` (which reads only the rows stored since its last call)."""


def run_once(
    conn: psycopg.Connection, since: datetime, until: datetime, *, fast: bool, limits: rules.Limits,
    reader: Reader = read,
) -> Cycle:  # fmt: skip
    """Detect over [since, until) and record the alarms (fast: events and statuses only)."""
    frames = reader(conn, EVENT_TABLES if fast else COLUMNS, since, until)
    found: list[Detection]
    found = [*rules.fault_events(frames), *rules.offline(frames)]
    changed = 0
    if not fast:
        kinds, rated = registry(conn)
        found = [d for d in rules.detect(frames, kinds, rated, until, limits) if d.type not in OWN_HISTORY]
        changed += silence(conn, kinds, until, limits)
        changed += overdue(conn, until, limits)
    changed += store.record(conn, found)
    return Cycle(since, until, sum(len(f) for f in frames.values()), len(found), changed)


def silence(conn: psycopg.Connection, kinds: dict[str, Kind], now: datetime, limits: rules.Limits) -> int:
    """Raise `silent` for devices quiet too long (by each one's last message in the last 3 days, so
    a long silence is not lost off the end of a window); clear it for those heard from again."""
    since = now - timedelta(days=3)
    last: dict[str, datetime] = {}
    for table in COLUMNS:
        query = sql.SQL(ANALYTICS.last_seen).format(table=sql.Identifier(table))
        for device_id, ts in conn.execute(query, (since,)).fetchall():
            last[device_id] = max(ts, last.get(device_id, ts))
    open_ = {r[0] for r in conn.execute(ANALYTICS.open_of_type, ("silent",)).fetchall()}
    raised: list[Detection] = []
    heard: list[tuple[str, str, datetime]] = []
    for device_id, kind in kinds.items():
        allowed = limits.heartbeat[kind] * limits.silent_periods
        seen = last.get(device_id)
        if seen is None:
            continue  # nothing in three days: never started, or long gone (the offline alarm says)
        if now - seen > allowed:
            minutes = (now - seen).total_seconds() / 60
            raised.append(Detection(device_id, "silent", "rule:heartbeat", "major", seen + allowed, now, None,
                                    f"no message for {minutes:.0f} min"))  # fmt: skip
        elif device_id in open_:
            heard.append((device_id, "silent", seen))
    return store.record(conn, raised) + store.clear(conn, heard)


def overdue(conn: psycopg.Connection, now: datetime, limits: rules.Limits) -> int:
    """One `parcel_overdue` alarm per locker holding parcels longer than the limit; cleared once
    they are all picked up. Read from the events table, not a window: parcels wait for days."""
    found = conn.execute(ANALYTICS.overdue_parcels, {"due": now - limits.parcel_overdue}).fetchall()
    raised = [
        Detection(device_id, "parcel_overdue", "rule:overdue", "warning", oldest + limits.parcel_overdue, now,
                  None, f"{n} parcels waiting over {limits.parcel_overdue.total_seconds() / 3600:.0f} h")
        for device_id, n, oldest in found
    ]  # fmt: skip
    waiting = {r[0] for r in found}
    open_ = {r[0] for r in conn.execute(ANALYTICS.open_of_type, ("parcel_overdue",)).fetchall()}
    done = [(device_id, "parcel_overdue", now) for device_id in open_ - waiting]
    return store.record(conn, raised) + store.clear(conn, done)


def fast_window_start(conn: psycopg.Connection, now: datetime, lookback: timedelta) -> datetime:
    """Read back to the oldest open event alarm (so its clearing event finds it), at most 3 days."""
    row = conn.execute(ANALYTICS.oldest_open, (FAST_DETECTORS,)).fetchone()
    oldest = row[0] if row and row[0] else now
    return max(min(now - lookback, oldest), now - timedelta(days=3))


def fit_learned(
    conn: psycopg.Connection, now: datetime, history: timedelta, sample: int, seed: int = 0
) -> dict[Kind, learned.Model]:
    """Fit each kind's model on `history` before `now`, for a random sample of its devices (the
    rows of a sample describe the kind as well as all of them, at a fraction of the reading)."""
    kinds, _ = registry(conn)
    rng = random.Random(seed)
    models = {}
    for kind in learned.CHOSEN:
        devices = sorted(d for d, k in kinds.items() if k is kind)
        chosen = rng.sample(devices, min(sample, len(devices)))
        if not chosen:
            continue
        frames = read(conn, learned.TABLES[kind], now - history, now, devices=chosen)
        if (model := learned.fit(kind, features.BY_KIND[kind](frames))) is not None:
            models[kind] = model
    return models


def run_learned(
    conn: psycopg.Connection, models: dict[Kind, learned.Model], since: datetime, until: datetime,
    context: timedelta, reader: Reader = read,
) -> Cycle:  # fmt: skip
    """Score the windows in [since, until) that have closed, with `context` before them for the
    trailing features, and record the alarms."""
    closed = pd.Timestamp(until).floor(features.WINDOW).to_pydatetime()
    tables = sorted({t for kind in models for t in learned.TABLES[kind]})
    frames = reader(conn, tables, since - context, closed)
    found = learned.detect(frames, models, since)
    return Cycle(since, closed, sum(len(f) for f in frames.values()), len(found), store.record(conn, found))


def run_histories(
    conn: psycopg.Connection, now: datetime, limits: rules.Limits, reader: Reader = read
) -> int:
    """The rules that judge a day or more of history (compartments reading full with no deposit,
    stuck parking sensors): every `HISTORIES_EVERY`, not every slow cycle, since their faults last
    hours and judging days of data every minute would be wasted."""
    return phantoms(conn, now, limits, reader) + stuck(conn, now, limits, reader)


def phantoms(conn: psycopg.Connection, now: datetime, limits: rules.Limits, reader: Reader = read) -> int:
    """Lockers reading compartments full that no deposit explains, judged over the rule's baseline
    (a day) and not the slow cycle's window: such a fault lasts hours, and the window would lose
    sight of it and never clear it. An open alarm the rule no longer sees is cleared."""
    frames = reader(conn, LOCKER_TABLES, now - limits.phantom_baseline - timedelta(hours=2), now)
    found = list(rules.lockers(frames, limits))
    ongoing = {d.device_id for d in found if d.cleared_at is None}
    open_ = {r[0] for r in conn.execute(ANALYTICS.open_of_type, ("compartment_sensor_fault",)).fetchall()}
    gone = [(device_id, "compartment_sensor_fault", now) for device_id in open_ - ongoing]
    return store.record(conn, found) + store.clear(conn, gone)


def stuck(conn: psycopg.Connection, now: datetime, limits: rules.Limits, reader: Reader = read) -> int:
    """Parking sensors stuck reading occupied (analytics/occupancy.py), over the days its clues need
    (a plate's home is learnt from its passages). An alarm clears once its space reads free."""
    spaces = {
        r[0]: occupancy.Space(r[1], r[2], r[3]) for r in conn.execute(ANALYTICS.parking_sensors).fetchall()
    }
    gates = {r[0]: r[1] for r in conn.execute(ANALYTICS.gates).fetchall()}
    frames = reader(conn, PARKING_TABLES, now - limits.stuck_history, now)
    found = list(occupancy.stuck_sensors(frames, spaces, gates, limits))
    open_ = {r[0] for r in conn.execute(ANALYTICS.open_of_type, (occupancy.TYPE,)).fetchall()}
    tele = frames.get("parking_space_telemetry")
    freed = []
    if tele is not None and open_:
        last = tele[tele["device_id"].isin(open_)].sort_values("ts").groupby("device_id").tail(1)
        freed = [
            (d, occupancy.TYPE, t)
            for d, t, o in zip(last["device_id"], last["ts"], last["occupied"], strict=True)
            if not o
        ]
    return store.record(conn, found) + store.clear(conn, freed)
