"""A corpus of bad messages: each is recorded with a precise reason, the good ones around it stored."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from core.broker.dynsec import new_password
from core.config import Settings
from core.contract.codec import encode
from core.contract.topics import Channel, Kind, device_topic
from tests.factories import Fleet, Publisher
from tests.processes import IngestProcess, wait_until


@pytest.fixture
def gateway(settings: Settings, fleet: Fleet) -> Iterator[Publisher]:
    """A plain MQTT client allowed to publish on any device topic (the broker ACL is not under test)."""
    name = f"test-gw-{secrets.token_hex(3)}"
    password = new_password()
    acl = [{"acltype": "publishClientSend", "topic": "community/#", "allow": True}]
    fleet.broker.ensure_service_account(name, password, name, acl)
    pub = Publisher(settings, name, password)
    yield pub
    pub.close()
    fleet.broker.run(
        [{"command": "deleteClient", "username": name}, {"command": "deleteRole", "rolename": name}]
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _charger(**override: object) -> bytes:
    body: dict[str, object] = {
        "ts": _now(), "seq": 1, "status": "Charging", "power_kw": 7.0, "energy_kwh": 10.0,
        "current_a": 30.0, "voltage_v": 230.0, "temperature_c": 35.0,
    }  # fmt: skip
    body.update(override)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def _json(**fields: object) -> bytes:
    return json.dumps({"ts": _now(), **fields}).encode()


def _corpus(fleet: Fleet) -> list[tuple[str, bytes, str, str]]:
    """(topic, payload, expected reason, a piece of the expected detail)."""
    (charger,) = fleet.add(Kind.EV_CHARGER)
    (space,) = fleet.add(Kind.PARKING_SPACE)
    (lift,) = fleet.add(Kind.ELEVATOR)
    (locker,) = fleet.add(Kind.PARCEL_LOCKER)
    c = charger.topic("telemetry")
    cid = fleet.community_id
    return [
        (c, b"not json", "bad_json", "malformed"),
        (c, b"[1, 2]", "invalid", "Expected `object`, got `array`"),
        (c, _charger(seq="7"), "invalid", "Expected `int`, got `str` - at `$.seq`"),
        (c, _charger(power_kw=True), "invalid", "Expected `float`, got `bool` - at `$.power_kw`"),
        (c, _charger(temperature_c=...), "invalid", "missing required field `temperature_c`"),
        (c, _charger().replace(b'"power_kw": 7.0', b'"power_kw": NaN'), "bad_json", "malformed"),
        (c, _charger().replace(b'"power_kw": 7.0', b'"power_kw": Infinity'), "bad_json", "malformed"),
        (c, _charger().replace(b'"power_kw": 7.0', b'"power_kw": 1e999'), "invalid", "$.power_kw"),
        (c, _charger(power_kw=-1), "invalid", ">= 0.0 - at `$.power_kw`"),
        (c, _charger(seq=-1), "invalid", ">= 0 - at `$.seq`"),
        (c, _charger(status="Exploding"), "invalid", "Invalid enum value 'Exploding'"),
        (c, _charger(ts="2026-01-01T00:00:00"), "invalid", "timezone"),
        (c, _charger(ts="2100-01-01T00:00:00Z"), "ts_out_of_range", "2100-01-01"),
        (c, _charger(ts="1970-01-01T00:00:00Z"), "ts_out_of_range", "1970-01-01"),
        (c, _charger(occupied=True), "invalid", "unknown field `occupied`"),
        (c, b'{"ts": "' + _now().encode() + b'", "seq": 1, "status": "\xff"}', "bad_utf8", "byte"),
        (c, _charger(pad="x" * 17_000), "oversize", "limit 16384"),
        (space.topic("telemetry"), _charger(), "invalid", "unknown field `status`"),
        (space.topic("event"), _charger(), "no_such_channel", "parking_space has no event channel"),
        (lift.topic("event"), _json(seq=2, event="fault", fault="boom"), "invalid", "$.fault"),
        (locker.topic("telemetry"),
         _json(seq=3, compartments_total=4, compartments_occupied=9, temperature_c=20),
         "invalid", "exceeds compartments_total"),
        (charger.topic("event"), _json(seq=4, event="session_start", session_id="a\u0000b"),
         "invalid", "$.session_id"),
        (f"community/{cid}/ev_charger/ghost-1/telemetry", _charger(), "unknown_device", "'ghost-1'"),
        (f"community/{cid}/elevator/{charger.id}/telemetry", _charger(), "invalid", "unknown field"),
        (f"community/{cid}/parcel_locker/{charger.id}/event", _json(seq=5, event="pickup", compartment=1),
         "registry_mismatch", "registered as ev_charger"),
        (f"community/x{cid}/ev_charger/{charger.id}/telemetry", _charger(), "registry_mismatch", f"'x{cid}'"),
        (f"community/{cid.upper()}/ev_charger/{charger.id}/telemetry", _charger(), "bad_topic", "community"),
        (f"community/{cid}/toaster/{charger.id}/telemetry", _charger(), "bad_topic", "unknown kind"),
        (f"community/{cid}/ev_charger/{charger.id}/logs", _charger(), "bad_topic", "unknown channel"),
    ]  # fmt: skip


def test_bad_messages_are_recorded_with_reasons_and_good_ones_stored(
    fleet: Fleet, gateway: Publisher, ingest: IngestProcess, conn: psycopg.Connection
) -> None:
    corpus = _corpus(fleet)
    (good,) = fleet.add(Kind.PARKING_SPACE)
    messages = []
    for topic, payload, _reason, _detail in corpus:
        messages += [(good.topic("telemetry"), encode(good.messages.telemetry())), (topic, payload)]
    messages.append((good.topic("telemetry"), encode(good.messages.telemetry())))
    gateway.publish_all(messages)

    topics = [t for t, _, _, _ in corpus]
    query = "SELECT topic, reason, detail FROM ingest_rejects WHERE topic = ANY(%s) ORDER BY received_at"

    def rejects() -> list[tuple[str, str, str]]:
        return [(r[0], r[1], r[2]) for r in conn.execute(query, (topics,)).fetchall()]

    wait_until(lambda: len(rejects()) >= len(corpus), 30, "every bad message recorded")
    wait_until(
        lambda: fleet.count_rows("parking_space_telemetry", [good.id]) == len(corpus) + 1, 30, "good rows"
    )
    got = rejects()
    assert len(got) == len(corpus)
    expected = [(topic, reason, detail) for topic, _, reason, detail in corpus]
    wrong = [(e, g) for e, g in zip(expected, got, strict=True) if e[:2] != g[:2] or e[2] not in g[2]]
    assert wrong == []
    oversize = "SELECT payload_size, length(payload) FROM ingest_rejects WHERE reason = 'oversize'"
    oversize += " AND topic = ANY(%s)"
    stored = conn.execute(oversize, (topics,)).fetchone()
    assert stored is not None and stored[0] > 17_000 and stored[1] <= 2048  # the payload kept is bounded
    assert ingest.health()["status"] == "ok"


def test_a_device_registered_after_its_message_was_refused_is_stored_at_once(
    fleet: Fleet, gateway: Publisher, ingest: IngestProcess, conn: psycopg.Connection
) -> None:
    """Registration takes effect for the very next message, however soon after a refusal."""
    device_id = fleet.new_id(Kind.EV_CHARGER)
    topic = device_topic(fleet.community_id, Kind.EV_CHARGER, device_id, Channel.TELEMETRY)
    query = "SELECT reason FROM ingest_rejects WHERE topic = %s"
    gateway.publish_all([(topic, _charger(seq=1))])
    wait_until(lambda: len(conn.execute(query, (topic,)).fetchall()) == 1, 30, "the refusal recorded")
    fleet.add(Kind.EV_CHARGER, device_id=device_id)
    gateway.publish_all([(topic, _charger(seq=2))])
    wait_until(lambda: fleet.count_rows("ev_charger_telemetry", [device_id]) == 1, 30, "the next one stored")
    assert [r[0] for r in conn.execute(query, (topic,)).fetchall()] == ["unknown_device"]
