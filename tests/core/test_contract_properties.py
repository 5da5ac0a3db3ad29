"""Whatever a generator builds within the contract is decoded back equal and stored field for field.

The strategies are read off the payload Structs with `msgspec.inspect.type_info`, so a field or
constraint added to the contract is generated without touching this file.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

import msgspec
import msgspec.inspect as mi
import psycopg
import pytest
from hypothesis import HealthCheck, Phase, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from psycopg import sql

from core.config import Settings
from core.contract.codec import decode, encode
from core.contract.payloads import PAYLOADS, Envelope, event_name, members
from core.contract.topics import Channel, Kind, device_topic
from core.db.tables import DEVICE_TABLES, Row
from simulators.schema import payload_schema
from tests.factories import Fleet, Publisher
from tests.processes import IngestProcess, wait_until

PAIRS = sorted(PAYLOADS)
PAIR_IDS = [f"{k}.{c}" for k, c in PAIRS]
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


def times(low: datetime, high: datetime, offsets: Any = OFFSETS) -> st.SearchStrategy[datetime]:
    """Instants in [low, high] (aware), each written with one of `offsets`."""
    naive = [t.astimezone(UTC).replace(tzinfo=None) for t in (low, high)]
    instants = st.datetimes(*naive, timezones=st.just(UTC))
    return st.tuples(instants, offsets).map(lambda t: t[0].astimezone(t[1]))


ANY_TIME = times(
    datetime.min.replace(tzinfo=UTC) + timedelta(days=1), datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
)


def _value(t: mi.Type, instants: st.SearchStrategy[datetime]) -> st.SearchStrategy[Any]:
    """Values of one msgspec type, within its constraints."""
    if isinstance(t, mi.Metadata):
        return _value(t.type, instants)
    if isinstance(t, mi.UnionType):
        return st.one_of(*(_value(member, instants) for member in t.types))
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.IntType) and t.multiple_of is None:
        low = t.ge if t.ge is not None else -(2**63) if t.gt is None else t.gt + 1
        high = t.le if t.le is not None else 2**64 - 1 if t.lt is None else t.lt - 1
        return st.integers(low, high)
    if isinstance(t, mi.FloatType) and t.multiple_of is None:
        return st.floats(
            t.ge if t.ge is not None else t.gt, t.le if t.le is not None else t.lt,
            exclude_min=t.gt is not None, exclude_max=t.lt is not None, allow_nan=False, allow_infinity=False,
        )  # fmt: skip
    if isinstance(t, mi.StrType):
        text = st.from_regex(t.pattern) if t.pattern else st.text()
        low, high = t.min_length or 0, t.max_length if t.max_length is not None else sys.maxsize
        return text.filter(lambda s: low <= len(s) <= high)
    if isinstance(t, mi.DateTimeType) and t.tz:
        return instants
    raise TypeError(f"no strategy for {t!r}: teach tests/core/test_contract_properties.py this type")


def _build(struct: type[Envelope], values: dict[str, Any]) -> Envelope | None:
    try:
        return struct(**values)
    except ValueError:  # a cross-field rule in __post_init__ (e.g. occupied <= total)
        return None


def structs(struct: type[Envelope], instants: st.SearchStrategy[datetime]) -> st.SearchStrategy[Envelope]:
    """Instances of one payload Struct: every field drawn from its type, optional ones maybe defaulted."""
    fields = {}
    for f in mi.type_info(struct).fields:  # type: ignore[attr-defined]
        value = _value(f.type, instants)
        if not f.required:
            default = f.default if f.default is not msgspec.NODEFAULT else f.default_factory()
            value = st.one_of(st.just(default), value)
        fields[f.name] = value
    built = st.fixed_dictionaries(fields).map(partial(_build, struct))
    return built.filter(lambda payload: payload is not None)  # type: ignore[return-value]


def payloads(
    kind: Kind, channel: Channel, instants: st.SearchStrategy[datetime] = ANY_TIME
) -> st.SearchStrategy[Envelope]:
    """Valid payloads of any member of the (kind, channel) payload type."""
    return st.one_of(*(structs(struct, instants) for struct in members(PAYLOADS[(kind, channel)])))


def _wire(payload: Envelope, dropped: set[str]) -> bytes:
    """The payload as a device may send it, leaving out some fields that hold their default."""
    body = {k: v for k, v in msgspec.structs.asdict(payload).items() if k not in dropped}
    tag = event_name(type(payload))
    return msgspec.json.encode({"event": tag, **body} if tag else body)


def _expected_row(device_id: str, payload: Envelope, columns: tuple[str, ...]) -> Row:
    by_name = {"device_id": device_id, "event": event_name(type(payload))}
    return tuple(getattr(payload, c) if c in payload.__struct_fields__ else by_name.get(c) for c in columns)


@pytest.mark.parametrize(("kind", "channel"), PAIRS, ids=PAIR_IDS)
@hsettings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip_schema_and_row(kind: Kind, channel: Channel, data: st.DataObject) -> None:
    payload = data.draw(payloads(kind, channel), label="payload")
    topic = device_topic("c-prop", kind, "dev-prop", channel)
    parsed, decoded = decode(topic, encode(payload))
    assert type(decoded) is type(payload)
    assert decoded == payload
    fields = msgspec.structs.fields(payload)
    defaulted = [f.name for f in fields if not f.required and getattr(payload, f.name) == f.default]
    dropped = data.draw(st.sets(st.sampled_from(defaulted)) if defaulted else st.just(set()), label="omit")
    assert decode(topic, _wire(payload, dropped))[1] == payload
    # The schema published to vendors accepts everything ingest accepts.
    Draft202012Validator(
        payload_schema(kind, channel), format_checker=Draft202012Validator.FORMAT_CHECKER
    ).validate(json.loads(encode(payload)))
    table = DEVICE_TABLES[(parsed.kind, parsed.channel)]
    assert set(payload.__struct_fields__) <= set(table.columns), "a field the table does not store"
    assert table.row("dev-prop", decoded) == _expected_row("dev-prop", payload, table.columns)


def _collect(
    kind: Kind, channel: Channel, instants: st.SearchStrategy[datetime], n: int, seen: set[object]
) -> list[Envelope]:
    """`n` distinct generated payloads; distinct (table, ts, boot, seq) so no row collapses into another."""
    found: list[Envelope] = []

    @hsettings(
        max_examples=n, database=None, phases=[Phase.generate], deadline=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )  # fmt: skip
    @given(payloads(kind, channel, instants))
    def collect(payload: Envelope) -> None:
        key = (kind, DEVICE_TABLES[(kind, channel)].name, payload.ts, payload.boot, payload.seq)
        assume(key not in seen)
        seen.add(key)
        found.append(payload)

    collect()
    return found


def _stored(conn: psycopg.Connection, kind: Kind, channel: Channel, device_id: str) -> dict[object, Row]:
    table = DEVICE_TABLES[(kind, channel)]
    query = sql.SQL("SELECT {} FROM {} WHERE device_id = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, table.columns)), sql.Identifier(table.name)
    )
    rows = conn.execute(query, (device_id,)).fetchall()
    at = {c: table.columns.index(c) for c in ("ts", "boot", "seq")}
    return {(r[at["ts"]], r[at["boot"]], r[at["seq"]]): tuple(r) for r in rows}


def test_generated_payloads_are_accepted_and_stored_field_for_field(
    settings: Settings, fleet: Fleet, ingest: IngestProcess, conn: psycopg.Connection
) -> None:
    # Within ingest's acceptance window, with a margin for the time the test takes.
    now = datetime.now(UTC)
    window = times(now - timedelta(days=399), now + timedelta(seconds=300), OFFSETS)
    devices = {kind: fleet.add(kind)[0] for kind in Kind}
    seen: set[object] = set()
    sent = [(k, c, p) for k, c in PAIRS for p in _collect(k, c, window, 15, seen)]
    assert len(sent) > 10 * len(PAIRS)
    for kind, device in devices.items():
        pub = Publisher(settings, device.id, device.password)
        pub.publish_all([(device.topic(c), encode(p)) for k, c, p in sent if k is kind])
        pub.close()

    def rejects() -> list[tuple[str, str, str]]:
        query = "SELECT topic, reason, detail FROM ingest_rejects WHERE topic LIKE %s"
        return [tuple(r) for r in conn.execute(query, (f"community/{fleet.community_id}/%",))]

    def all_stored() -> bool:
        assert rejects() == [], "ingest rejected a generated payload"
        count = sum(len(_stored(conn, k, c, devices[k].id)) for k, c in PAIRS)
        return count >= len(sent)

    wait_until(all_stored, 30, f"{len(sent)} generated payloads stored")
    stored = {(k, c): _stored(conn, k, c, devices[k].id) for k, c in PAIRS}
    for kind, channel, payload in sent:
        table = DEVICE_TABLES[(kind, channel)]
        row = stored[(kind, channel)].get((payload.ts, payload.boot, payload.seq))
        expected = _expected_row(devices[kind].id, payload, table.columns)
        assert row is not None, f"not stored: {kind}.{channel} {payload!r}"
        differ = {c: (r, e) for c, r, e in zip(table.columns, row, expected, strict=True) if r != e}
        assert not differ, f"{kind}.{channel} {payload!r}: stored vs sent {differ}"


def test_any_offset_the_contract_allows_is_stored(
    settings: Settings, fleet: Fleet, ingest: IngestProcess, conn: psycopg.Connection
) -> None:
    (device,) = fleet.add(Kind.PARKING_GATE)
    ts = datetime.now(UTC).astimezone(timezone(timedelta(hours=16)))
    payload = device.messages.telemetry(ts)
    decode(device.topic(Channel.TELEMETRY), encode(payload))  # the contract accepts it
    pub = Publisher(settings, device.id, device.password)
    pub.publish_all([(device.topic(Channel.TELEMETRY), encode(payload))])
    pub.close()

    def handled() -> bool:
        query = "SELECT 1 FROM ingest_rejects WHERE topic = %s"
        rejected = conn.execute(query, (device.topic(Channel.TELEMETRY),)).fetchone() is not None
        return rejected or fleet.count_rows("parking_gate_telemetry") > 0

    wait_until(handled, 30, "the message stored or rejected")
    assert fleet.count_rows("parking_gate_telemetry") == 1
