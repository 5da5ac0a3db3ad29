"""Seeded device behaviour: determinism, the contract, daily patterns, faults with ground truth."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise

import pytest
from jsonschema import Draft202012Validator

from core.contract import payloads as p
from core.contract.codec import decode, encode
from core.contract.payloads import PAYLOADS
from core.contract.topics import Channel, Kind, device_topic
from simulators import schema
from simulators.behaviour.base import LOCAL_TZ, Emission, FaultLabel, digest
from simulators.behaviour.faults import ELEVATOR_EVENT_FAULTS, FaultRates
from simulators.behaviour.parking import changes
from simulators.behaviour.schedule import simulate
from simulators.community import Community, load_community, resolve

# Tuesday 3 March 2026, a whole local workday
START = datetime(2026, 3, 3, tzinfo=LOCAL_TZ).astimezone(UTC)
END = START + timedelta(days=1)
ALL_FAULTS = FaultRates.uniform(1.0)


@cache
def demo() -> Community:
    return load_community(resolve("demo"))


@cache
def run(seed: int, rates: FaultRates, hours: float = 24) -> tuple[list[Emission], list[FaultLabel]]:
    stream, labels = simulate(demo(), START, START + timedelta(hours=hours), seed, rates)
    return list(stream), labels


def _local_hour(e: Emission) -> float:
    t = e.ts.astimezone(LOCAL_TZ)
    return t.hour + t.minute / 60


def _fingerprint(emissions: list[Emission]) -> list[tuple[str, str, bytes]]:
    return [(e.device_id, e.channel, encode(e.payload)) for e in emissions]


def test_same_seed_same_messages_other_seed_other_messages() -> None:
    a, labels_a = simulate(demo(), START, START + timedelta(hours=6), 7, ALL_FAULTS)
    b, labels_b = simulate(demo(), START, START + timedelta(hours=6), 7, ALL_FAULTS)
    c, _ = simulate(demo(), START, START + timedelta(hours=6), 8, ALL_FAULTS)
    first = _fingerprint(list(a))
    assert first == _fingerprint(list(b)) and labels_a == labels_b
    assert first != _fingerprint(list(c))


@pytest.mark.parametrize("rates", [FaultRates(), ALL_FAULTS], ids=["default-rates", "all-faults"])
def test_every_message_keeps_the_contract(rates: FaultRates) -> None:
    emissions, _ = run(3, rates)
    registered = {d[0]: d[1] for d in demo().devices()}
    assert set(registered) == {e.device_id for e in emissions}
    last: dict[str, tuple[int, int]] = {}
    previous_ts = START
    for e in emissions:
        assert START <= e.ts <= END and e.ts >= previous_ts and e.ts.tzinfo is UTC
        previous_ts = e.ts
        assert registered[e.device_id] is e.kind and e.payload.ts == e.ts
        topic = device_topic(demo().id, e.kind, e.device_id, e.channel)
        parsed, decoded = decode(topic, encode(e.payload))
        assert parsed.device_id == e.device_id and decoded == e.payload
        boot, seq = e.payload.boot, e.payload.seq
        if e.device_id in last:
            last_boot, last_seq = last[e.device_id]
            assert (boot == last_boot and seq > last_seq) or (boot == last_boot + 1 and seq == 0)
        else:
            assert isinstance(e.payload, p.DeviceStatus) and e.payload.state == "online"
        last[e.device_id] = (boot, seq)


def test_every_message_validates_against_the_published_schema() -> None:
    """The JSON Schemas device vendors get (docs/contract/v1) accept everything the simulators send."""
    validators: dict[tuple[Kind, Channel], Draft202012Validator] = {}
    emissions, _ = run(3, ALL_FAULTS)
    for e in emissions:
        key = (e.kind, e.channel)
        if key not in validators:
            published = json.loads(
                (schema.DEFAULT_OUT / schema.schema_path(*key)).read_text(encoding="utf-8")
            )
            validators[key] = Draft202012Validator(
                published, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
        errors = list(validators[key].iter_errors(json.loads(encode(e.payload))))
        assert not errors, (e, errors[0].message)
    assert len(validators) == len(PAYLOADS)


def test_workday_patterns_show_in_aggregate() -> None:
    emissions, labels = run(11, FaultRates.uniform(0.0))
    assert labels == []
    residents = {demo().full_id(s.id) for s in demo().spaces if s.space_type == "resident"}
    occupied: dict[str, bool] = {}
    at: dict[int, int] = {}
    sessions, pickups, trips = Counter[str](), Counter[str](), Counter[str]()
    for e in emissions:
        hour = _local_hour(e)
        for probe in (3, 11):
            if probe not in at and hour >= probe:
                at[probe] = sum(occupied.values())
        pl = e.payload
        if isinstance(pl, p.SpaceTelemetry) and e.device_id in residents:
            occupied[e.device_id] = pl.occupied
        window = "morning" if 6 <= hour < 12 else "evening" if 18 <= hour < 23 else ""
        if isinstance(pl, p.SessionStart) and window:
            sessions[window] += 1
        if isinstance(pl, p.Pickup) and (6 <= hour < 12 or 17 <= hour < 22):
            pickups["morning" if hour < 12 else "evening"] += 1
        if isinstance(pl, p.Trip) and (7 <= hour < 9 or 17 <= hour < 20):
            way = "down" if pl.to_floor < pl.from_floor else "up"
            trips[f"{'am' if hour < 12 else 'pm'}-{way}"] += 1
    assert at[3] > at[11] + len(residents) // 3, at  # the tide: home at night, out at work
    assert sessions["evening"] > sessions["morning"], sessions
    assert pickups["evening"] > pickups["morning"], pickups
    assert trips["am-down"] > trips["am-up"] and trips["pm-up"] > trips["pm-down"], trips
    # gates see every car that comes and goes
    passages = Counter(pl.direction for e in emissions if isinstance(pl := e.payload, p.GatePassage))
    assert passages["in"] > 50 and passages["out"] > 50


def test_a_visitor_at_a_residents_space_passes_the_gate_with_a_plate_of_its_own() -> None:
    emissions, _ = run(11, FaultRates.uniform(0.0))
    ways: defaultdict[str, list[str]] = defaultdict(list)
    for e in emissions:
        if isinstance(pl := e.payload, p.GatePassage):
            ways[pl.plate_hash].append(pl.direction)
    shared = 0
    for space in demo().spaces:
        space_id = demo().full_id(space.id)
        came = [c.ts for c in changes(space, 11, space_id, START, END) if c.guest and START <= c.ts < END]
        if space.space_type != "resident" or not came:
            continue
        shared += 1
        # the owner goes out in the morning and comes back in the evening, and nothing else
        assert ways[digest(space_id, "car")] == ["out", "in"], space_id
        (t,) = came
        assert ways[digest(space_id, t)] == ["in", "out"], space_id
    assert shared > 0  # the workday had visitors at residents' spaces


def test_no_faults_without_rates() -> None:
    emissions, labels = run(11, FaultRates.uniform(0.0))
    statuses = [e for e in emissions if e.channel is Channel.STATUS]
    assert labels == [] and len(statuses) == len(demo().devices())
    assert all(e.payload.boot == 0 for e in emissions)


def test_every_fault_is_labelled_and_shows_in_the_data() -> None:
    emissions, labels = run(5, ALL_FAULTS)
    kinds = {d[0]: d[1] for d in demo().devices()}
    by_device: dict[str, list[Emission]] = defaultdict(list)
    for e in emissions:
        by_device[e.device_id].append(e)
    assert len(labels) > 100
    for label in labels:
        assert kinds[label.device_id] is label.kind
        assert START <= label.start <= END and (label.end is None or label.start <= label.end <= END)
        end = label.end or END
        inside = [e for e in by_device[label.device_id] if label.start <= e.ts <= end]
        assert _visible(label, inside, by_device[label.device_id]), label


@pytest.mark.parametrize("fault_type", list(FaultRates.model_fields))
def test_each_fault_type_alone(fault_type: str) -> None:
    """One type at rate 1: every device it applies to gets it once a day, visibly."""
    emissions, labels = run(9, FaultRates.uniform(0.0, **{fault_type: 1.0}), 6)
    assert labels and {label.fault_type for label in labels} <= {fault_type} | ELEVATOR_EVENT_FAULTS
    assert len({label.device_id for label in labels}) == len(labels)
    by_device: dict[str, list[Emission]] = defaultdict(list)
    for e in emissions:
        by_device[e.device_id].append(e)
    for label in labels:
        end = label.end or END
        inside = [e for e in by_device[label.device_id] if label.start <= e.ts <= end]
        assert label.start.tzinfo is UTC and _visible(label, inside, by_device[label.device_id]), label


def test_a_fault_that_comes_back_shows_again() -> None:
    """A charger's meter going backwards a second time goes back again (it once stayed put)."""
    emissions, labels = run(9, FaultRates.uniform(0.0, meter_backwards=1.0), 24 * 4)
    by_device: dict[str, list[Emission]] = defaultdict(list)
    for e in emissions:
        by_device[e.device_id].append(e)
    seen = Counter(label.device_id for label in labels)
    again = [label for label in labels if seen[label.device_id] > 1]
    assert again, "the run should give some charger the fault more than once"
    for label in again:
        end = label.end or START + timedelta(days=4)
        inside = [e for e in by_device[label.device_id] if label.start <= e.ts <= end]
        assert _visible(label, inside, by_device[label.device_id]), label


SILENT_DRIFTS = ("over_temperature_drift", "power_spike", "vibration_rising", "compartment_sensor_fault")


def test_silent_faults_change_the_data_only_inside_their_window() -> None:
    """Against the same seed without faults: nothing differs outside a label's window."""
    stuck = {"meter_stuck": 1.0}  # a stuck space sensor also drops messages, so it is not compared
    faulty, labels = run(5, FaultRates.uniform(0.0, **dict.fromkeys(SILENT_DRIFTS, 1.0), **stuck), 48)
    clean, _ = run(5, FaultRates.uniform(0.0), 48)
    assert {label.fault_type for label in labels} == {*SILENT_DRIFTS, *stuck}
    assert all(label.silent for label in labels)
    mine: dict[str, list[Emission]] = defaultdict(list)
    theirs: dict[str, list[Emission]] = defaultdict(list)
    for e in faulty:
        mine[e.device_id].append(e)
    for e in clean:
        theirs[e.device_id].append(e)
    windows = defaultdict(list)
    for label in labels:
        windows[label.device_id].append(label)
    for device_id, emissions in mine.items():
        assert len(emissions) == len(theirs[device_id])
        differ = [a.ts for a, b in zip(emissions, theirs[device_id], strict=True) if a.payload != b.payload]
        for ts in differ:
            assert any(w.start <= ts <= (w.end or ts) for w in windows[device_id]), (device_id, ts)
        for w in windows[device_id]:
            if w.fault_type in SILENT_DRIFTS and (w.end or END) - w.start > timedelta(minutes=10):
                assert any(w.start <= ts <= (w.end or ts) for ts in differ), w


def _visible(label: FaultLabel, inside: list[Emission], everything: list[Emission]) -> bool:
    """Whether a fault's effect shows in the device's messages inside its window."""
    ft, start, end = label.fault_type, label.start, label.end or END
    payloads = [e.payload for e in inside]
    first = payloads[0] if inside and inside[0].ts == start else None
    if ft in ELEVATOR_EVENT_FAULTS:
        return isinstance(first, p.ElevatorFault) or any(
            isinstance(x, p.ElevatorFault) and x.fault == ft and x.ts == start for x in payloads
        )
    if ft in ("charger_fault", "gate_fault", "locker_fault"):
        code = {p.ChargerFault, p.GateFault, p.LockerFault}
        return any(type(x) in code and x.code == label.detail and x.ts == start for x in payloads)  # type: ignore[attr-defined]
    if ft == "door_left_open":
        return any(isinstance(x, p.DoorOpen) and x.ts == start for x in payloads) and (
            end - start < timedelta(minutes=3) or any(isinstance(x, p.DoorLeftOpen) for x in payloads)
        )
    if ft == "reboot":
        return any(isinstance(x, p.DeviceStatus) and x.seq == 0 and x.boot > 0 for x in payloads)
    if ft == "network_loss":
        return (
            isinstance(first, p.DeviceStatus)
            and first.state == "offline"
            and all(isinstance(x, p.DeviceStatus) for x in payloads)
        )
    if ft == "silent":
        return all(not (start < e.ts < end) for e in everything)
    if ft == "sensor_stuck":
        space = [x for x in payloads if isinstance(x, p.SpaceTelemetry)]
        return all(x.occupied for x in space) and (end - start < timedelta(minutes=31) or bool(space))
    if ft == "sensor_flapping":
        return end - start < timedelta(minutes=15) or len(payloads) >= 3
    if ft == "dead_battery":
        quiet_from = start + timedelta(minutes=30)
        return all(x.battery_pct <= 3 for x in payloads if isinstance(x, p.SpaceTelemetry)) and not any(
            quiet_from < e.ts < end for e in everything
        )
    meters = [x.energy_kwh for x in payloads if isinstance(x, p.ChargerTelemetry)]
    if ft == "meter_backwards":
        before = [
            x.energy_kwh
            for e in everything
            if e.ts < start and isinstance(x := e.payload, p.ChargerTelemetry)
        ]
        series = before[-1:] + meters
        return any(b < a for a, b in pairwise(series))
    if ft == "meter_stuck":
        return len(set(meters)) <= 1
    if ft == "power_spike":  # at least 2.5 times what the post can deliver
        limit = {demo().full_id(c.id): c.max_kw for c in demo().chargers}[label.device_id]
        return any(isinstance(x, p.ChargerTelemetry) and x.power_kw > 2 * limit for x in payloads)
    if ft == "night_trips":
        return sum(isinstance(x, p.Trip) for x in payloads) >= 2 or end - start < timedelta(minutes=15)
    return ft in SILENT_DRIFTS  # checked against a fault-free run below
