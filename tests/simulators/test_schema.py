"""The published contract (JSON Schemas, docs/contract.md) is current and agrees with what ingest enforces."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from core.contract.codec import ContractError, Reason, decode, encode
from core.contract.payloads import PAYLOADS, LockerTelemetry, members
from core.contract.topics import ID_PATTERN, MAX_PAYLOAD_BYTES, Channel, Kind, device_topic
from simulators import schema
from simulators.cli import contract_app

PAIRS = sorted(PAYLOADS)
PAIR_IDS = [f"{k}.{c}" for k, c in PAIRS]
EXAMPLES = schema.examples()
JSON_TYPES: dict[str, Any] = {
    "string": "text", "integer": 7, "number": 7.5, "boolean": True, "null": None, "array": [], "object": {},
}  # fmt: skip


def _validator(kind: Kind, channel: Channel) -> Draft202012Validator:
    return Draft202012Validator(
        schema.payload_schema(kind, channel), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _ingest_accepts(kind: Kind, channel: Channel, body: object) -> bool:
    try:
        decode(device_topic("c-1", kind, "dev-1", channel), json.dumps(body).encode())
    except ContractError:
        return False
    return True


def _types(prop: dict[str, Any]) -> set[str]:
    options = prop.get("anyOf", [prop])
    found = {o["type"] for o in options if "type" in o}
    enums = [e for o in options for e in o.get("enum", ())]
    found |= {next(n for n, v in JSON_TYPES.items() if type(v) is type(e)) for e in enums}
    return found | ({"integer"} if "number" in found else set())


def _out_of_range(prop: dict[str, Any]) -> list[object]:
    bad: list[object] = []
    for p in prop.get("anyOf", [prop]):
        bad += [p["minimum"] - 1] if "minimum" in p else []
        bad += [p["maximum"] + 1] if "maximum" in p else []
        bad += ["not-a-member"] if "enum" in p else []
        bad += ["a" * (p["maxLength"] + 1)] if "maxLength" in p else []
        bad += ["a" * (p["minLength"] - 1)] if p.get("minLength") else []
        if "pattern" in p:
            bad += [s for s in ("bad\x01", "Z" * 16) if not re.search(p["pattern"], s)][:1]
        if p.get("format") == "date-time":
            bad += ["2025-01-01T08:00:00", "yesterday"]
    return bad


def _violations(kind: Kind, channel: Channel) -> list[tuple[str, dict[str, Any]]]:
    """Payloads breaking the contract in one way each, derived from the example and its schema."""
    example = EXAMPLES[(kind, channel)]
    body = json.loads(encode(example))
    definition = schema.payload_schema(kind, channel)["$defs"][type(example).__name__]
    cases = [("unknown field", {**body, "colour": "red"})]
    cases += [(f"missing {n}", {k: v for k, v in body.items() if k != n}) for n in definition["required"]]
    for name, prop in definition["properties"].items():
        allowed = _types(prop)
        cases += [(f"{name} as {t}", {**body, name: v}) for t, v in JSON_TYPES.items() if t not in allowed]
        cases += [(f"{name} = {v!r:.40}", {**body, name: v}) for v in _out_of_range(prop)]
    return cases


def test_published_files_are_what_the_code_generates() -> None:
    stale = schema.stale()
    assert stale == [], f"{[str(p) for p in stale]} are stale: run `yiju contract export` and commit"


def test_the_format_checker_asserts_date_time() -> None:
    # Without rfc3339-validator, jsonschema silently skips "format": "date-time".
    assert not Draft202012Validator.FORMAT_CHECKER.conforms("2025-01-01T08:00:00", "date-time")


@pytest.mark.parametrize(("kind", "channel"), PAIRS, ids=PAIR_IDS)
def test_schema_is_standalone_draft_2020_12(kind: Kind, channel: Channel) -> None:
    published = schema.payload_schema(kind, channel)
    Draft202012Validator.check_schema(published)
    assert published["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert published["$id"] and published["title"]
    topic = device_topic("{community_id}", kind, "{device_id}", channel)
    for fact in (topic, ID_PATTERN, str(MAX_PAYLOAD_BYTES)):
        assert fact in published["description"]
    assert {s.__name__ for s in members(PAYLOADS[(kind, channel)])} == set(published["$defs"])


@pytest.mark.parametrize(("kind", "channel"), PAIRS, ids=PAIR_IDS)
def test_example_is_valid_for_ingest_and_schema(kind: Kind, channel: Channel) -> None:
    body = json.loads(encode(EXAMPLES[(kind, channel)]))
    assert _ingest_accepts(kind, channel, body)
    _validator(kind, channel).validate(body)
    assert json.dumps(body, indent=2) in schema.render_document()


@pytest.mark.parametrize(("kind", "channel"), PAIRS, ids=PAIR_IDS)
def test_violations_are_rejected_by_ingest_and_schema(kind: Kind, channel: Channel) -> None:
    validator = _validator(kind, channel)
    cases = _violations(kind, channel)
    assert len(cases) >= 6
    disagree = [
        (label, ingest, validator.is_valid(body))
        for label, body in cases
        if (ingest := _ingest_accepts(kind, channel, body)) or validator.is_valid(body)
    ]
    assert disagree == [], "(case, ingest accepts, schema accepts) for payloads that break the contract"


def test_an_unknown_event_is_rejected_by_both() -> None:
    for kind, channel in PAIRS:
        body = json.loads(encode(EXAMPLES[(kind, channel)]))
        if "event" in body:
            body["event"] = "nope"
            assert not _ingest_accepts(kind, channel, body)
            assert not _validator(kind, channel).is_valid(body)


def test_known_gap_integers_with_a_fraction_part_are_for_ingest_only() -> None:
    # JSON Schema's "integer" admits 1.0; msgspec (ingest) does not, so the document says so.
    body = {**json.loads(encode(EXAMPLES[(Kind.PARKING_GATE, Channel.TELEMETRY)])), "seq": 1.0}
    assert not _ingest_accepts(Kind.PARKING_GATE, Channel.TELEMETRY, body)
    assert _validator(Kind.PARKING_GATE, Channel.TELEMETRY).is_valid(body)
    assert "Integers are written without a decimal point" in schema.render_document()


def test_known_gap_cross_field_rules_are_described_in_the_schema() -> None:
    # JSON Schema cannot compare two fields; the schema says ingest checks more.
    key = (Kind.PARCEL_LOCKER, Channel.TELEMETRY)
    body = {**json.loads(encode(EXAMPLES[key])), "compartments_total": 5, "compartments_occupied": 6}
    assert not _ingest_accepts(*key, body)
    assert _validator(*key).is_valid(body)
    described = schema.payload_schema(*key)["$defs"][LockerTelemetry.__name__]["description"]
    assert "beyond this schema" in described


def test_document_covers_every_reason_kind_and_field() -> None:
    document = schema.render_document()
    assert all(f"| `{reason}` |" in document for reason in Reason)
    assert all(f"### `{kind}`" in document for kind in Kind)
    for payload_type in PAYLOADS.values():
        for struct in members(payload_type):
            fields = set(struct.__struct_fields__)
            assert all(f"| `{name}` |" in document for name in fields), struct.__name__


def test_cli_check_lists_stale_files_and_export_fixes_them(tmp_path: Path) -> None:
    runner = CliRunner()
    orphan = tmp_path / schema.SCHEMA_DIR / "retired.event.schema.json"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("{}")
    result = runner.invoke(contract_app, ["check", "--out", str(tmp_path)])
    assert result.exit_code == 1
    for path in [*schema.generated(), orphan.relative_to(tmp_path)]:
        assert str(tmp_path / path) in result.output
    assert runner.invoke(contract_app, ["export", "--out", str(tmp_path)]).exit_code == 0
    assert not orphan.exists()
    assert runner.invoke(contract_app, ["check", "--out", str(tmp_path)]).exit_code == 0
    (tmp_path / schema.DOCUMENT).write_text("edited by hand\n")
    result = runner.invoke(contract_app, ["check", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert str(tmp_path / schema.DOCUMENT) in result.output
