"""Contract v1 for vendors: a JSON Schema per (kind, channel) and docs/contract.md, made from the code."""

# The device kit publishes the contract: examples come from the simulator, facts from core.contract;
# nothing in the contract imports it, so payloads, topics and codec stay liftable as a device kit.

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec

from core.contract import delivery, topics
from core.contract.codec import Reason, encode
from core.contract.payloads import PAYLOADS, Envelope, event_name, members
from core.contract.topics import Channel, Kind
from simulators.messages import MessageFactory

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path("contract") / f"v{topics.CONTRACT_VERSION}"
DOCUMENT = Path("contract.md")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs"
EXAMPLE_TS = datetime(2025, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
EXAMPLE_SEED = 7
TOPIC_TEMPLATE = topics.device_topic("{community_id}", "{kind}", "{device_id}", "{channel}")

_REASONS: dict[Reason, str] = {
    Reason.BAD_TOPIC: "the topic does not follow the layout above (the detail names the part)",
    Reason.NO_SUCH_CHANNEL: "the kind has no such channel in this contract version",
    Reason.OVERSIZE: f"the payload is larger than {topics.MAX_PAYLOAD_BYTES} bytes",
    Reason.BAD_UTF8: "the payload is not valid UTF-8",
    Reason.BAD_JSON: "the payload is not well-formed JSON",
    Reason.INVALID: "the JSON breaks the schema: a wrong type, a missing or unknown field, a value out of "
    "range or not in the list (the detail gives the JSON path)",
    Reason.UNKNOWN_DEVICE: "the device id is not registered",
    Reason.REGISTRY_MISMATCH: "the device is registered with another kind or community than the topic says",
    Reason.DECOMMISSIONED: "the device has been decommissioned",
    Reason.TS_OUT_OF_RANGE: f"`ts` is more than {topics.TS_MAX_FUTURE_S} s ahead of the "
    f"server clock or more than {topics.TS_MAX_PAST_DAYS} days behind it (defaults)",
    Reason.DB_REJECTED: "the database refused the row (a server fault, not the device's)",
}
_UNITS = {"kw": "kW", "kwh": "kWh", "a": "A", "v": "V", "c": "°C", "pct": "%", "dbm": "dBm",
          "mps": "m/s", "kg": "kg", "s": "s"}  # fmt: skip
"""Units by field-name suffix: the contract names each measured field after its unit."""


def schema_path(kind: Kind, channel: Channel) -> Path:
    """Where the schema of one (kind, channel) lives, relative to the docs directory."""
    return SCHEMA_DIR / f"{kind}.{channel}.schema.json"


def _cross_field_note(struct: type[Envelope]) -> str | None:
    check = struct.__dict__.get("__post_init__")
    if check is None:
        return None
    rule = (check.__doc__ or "").strip().rstrip(".") or "a rule between its fields"
    return f"Ingest also checks, beyond this schema: {rule}."


def payload_schema(kind: Kind, channel: Channel) -> dict[str, Any]:
    """A standalone draft 2020-12 schema of what `kind` publishes on `channel`."""
    body = msgspec.json.schema(PAYLOADS[(kind, channel)])
    for struct in members(PAYLOADS[(kind, channel)]):
        note = _cross_field_note(struct)
        if note:
            definition = body["$defs"][struct.__name__]
            definition["description"] = f"{definition.get('description', '')} {note}".strip()
    topic = topics.device_topic("{community_id}", kind, "{device_id}", channel)
    retained = delivery.is_retained(channel)
    return {
        "$schema": DRAFT,
        "$id": f"urn:yiju:contract:v{topics.CONTRACT_VERSION}:{kind}.{channel}",
        "title": f"Yiju contract v{topics.CONTRACT_VERSION}: {kind} {channel}",
        "description": (
            f"The JSON object a {kind} device publishes on MQTT topic {topic}, where community_id and "
            f"device_id match {topics.ID_PATTERN}; UTF-8, at most {topics.MAX_PAYLOAD_BYTES} bytes "
            f"({topics.MAX_PAYLOAD_BYTES // 1024} KiB); "
            f"QoS {delivery.QOS}{', retained' if retained else ''}."
        ),
        "x-mqtt": {
            "topic": topic,
            "idPattern": topics.ID_PATTERN,
            "qos": delivery.QOS,
            "retain": retained,
            "maxPayloadBytes": topics.MAX_PAYLOAD_BYTES,
        },
        **body,
    }


def examples() -> dict[tuple[Kind, Channel], Envelope]:
    """One deterministic example payload per (kind, channel), built by the device simulator."""
    made: dict[tuple[Kind, Channel], Envelope] = {}
    for kind in Kind:
        factory = MessageFactory(kind, seed=EXAMPLE_SEED)
        candidates = {
            Channel.TELEMETRY: factory.telemetry(EXAMPLE_TS),
            Channel.EVENT: factory.event(EXAMPLE_TS),
            Channel.STATUS: factory.status(ts=EXAMPLE_TS),
        }
        made |= {(kind, c): p for c, p in candidates.items() if p is not None and (kind, c) in PAYLOADS}
    missing = set(PAYLOADS) - set(made)
    if missing:
        raise LookupError(f"the simulator makes no example for {sorted(missing)}")
    return made


def _structs() -> set[type[Envelope]]:
    return {struct for payload_type in PAYLOADS.values() for struct in members(payload_type)}


def _json(payload: Envelope) -> str:
    return msgspec.json.format(encode(payload), indent=2).decode()


def _num(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _type(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"])
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    if prop.get("format") == "date-time":
        return "string, RFC 3339 date-time"
    return str(prop["type"])


def _limits(prop: dict[str, Any]) -> str:
    parts = []
    for p in prop.get("anyOf", [prop]):
        if "minimum" in p and "maximum" in p:
            parts.append(f"{_num(p['minimum'])} to {_num(p['maximum'])}")
        else:
            signs = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}
            parts += [f"{sign} {_num(p[key])}" for key, sign in signs.items() if key in p]
        if "minLength" in p or "maxLength" in p:
            parts.append(f"{p.get('minLength', 0)} to {p.get('maxLength', '…')} characters")
        if "pattern" in p:
            parts.append(f"pattern `{p['pattern']}`")
    return "; ".join(parts).replace("|", "\\|")


def _unit(name: str) -> str:
    return _UNITS.get(name.rsplit("_", 1)[-1], "") if "_" in name else ""


def _table(definition: dict[str, Any], skip: set[str]) -> list[str]:
    rows = ["| field | type | range | unit | required | description |", "|---|---|---|---|---|---|"]
    required = set(definition.get("required", ()))
    for name, prop in definition["properties"].items():
        if name in skip:
            continue
        need = "yes" if name in required else f"no (default `{json.dumps(prop.get('default'))}`)"
        rows.append(
            f"| `{name}` | {_type(prop)} | {_limits(prop)} | {_unit(name)} | {need} "
            f"| {prop.get('description', '')} |"
        )
    return rows


def _kind_section(kind: Kind, samples: dict[tuple[Kind, Channel], Envelope], seen: set[type]) -> list[str]:
    lines = [f"### `{kind}`", ""]
    envelope = set(Envelope.__struct_fields__)
    for channel in Channel:
        if (kind, channel) not in PAYLOADS:
            continue
        schema = payload_schema(kind, channel)
        lines += [f"#### `{channel}` ([JSON Schema]({schema_path(kind, channel).as_posix()}))", ""]
        for struct in members(PAYLOADS[(kind, channel)]):
            definition = schema["$defs"][struct.__name__]
            tag_field = struct.__struct_config__.tag_field
            tag = event_name(struct)
            title = f"`{tag_field}`: `{tag}`" if tag else f"`{struct.__name__}`"
            lines += [f"**{title}**: {definition.get('description', '')}", ""]
            if struct in seen:
                lines += ["Its fields are listed above.", ""]
            elif any(n not in envelope and n != tag_field for n in definition["properties"]):
                lines += [*_table(definition, envelope | {tag_field or ""}), ""]
            seen.add(struct)
        lines += ["Example:", "", "```json", _json(samples[(kind, channel)]), "```", ""]
    return lines


def render_document() -> str:
    """docs/contract.md: the contract for device vendors, every fact taken from the code."""
    samples = examples()
    envelope = msgspec.json.schema(Envelope)["$defs"]["Envelope"]
    acl = topics.device_topic_filter("{community_id}", "{kind}", "{device_id}")
    will = MessageFactory(Kind.ELEVATOR, seed=EXAMPLE_SEED).status("offline", EXAMPLE_TS)
    retained = ", ".join(f"`{c}`" for c in Channel if delivery.is_retained(c))
    v = topics.CONTRACT_VERSION
    tags = ", ".join(sorted({f"`{s.__struct_config__.tag_field}`" for s in _structs() if event_name(s)}))
    lines = [
        f"# Yiju device contract v{v}",
        "",
        "<!-- Generated by `yiju contract export` from core/contract; edit the code, not this file. -->",
        "",
        "What a device sends to a Yiju community platform over MQTT. Machine-readable JSON Schemas "
        f"(draft 2020-12) of every payload are in [`{SCHEMA_DIR.as_posix()}/`]({SCHEMA_DIR.as_posix()}/).",
        "",
        "## Topics",
        "",
        f"Every message goes to `{TOPIC_TEMPLATE}`.",
        "",
        f"- `community_id` and `device_id` match `{topics.ID_PATTERN}` (the whole segment, no "
        "trailing newline).",
        f"- `kind` is one of {', '.join(f'`{k}`' for k in Kind)}; the registry must hold the device "
        "with that kind in that community.",
        "- `channel` is one the kind has (ticked below):",
        "",
        "| kind |" + "".join(f" `{c}` |" for c in Channel),
        "|---|" + "---|" * len(Channel),
        *(f"| `{k}` |" + "".join(" yes |" if (k, c) in PAYLOADS else " no |" for c in Channel) for k in Kind),
        "",
        "## Delivery",
        "",
        f"- The payload is one JSON object in UTF-8, at most {topics.MAX_PAYLOAD_BYTES} bytes.",
        f"- Publish with QoS {delivery.QOS}; keep unacknowledged messages and resend them after a reconnect.",
        f"- Retained channels: {retained}. Publish them with the retain flag.",
        f"- Set the MQTT last will on the `{delivery.LAST_WILL}` topic, retained, to an `offline` "
        "status, for example:",
        "",
        "```json",
        _json(will),
        "```",
        "",
        "## Security",
        "",
        "Each device connects with its own username and password, issued when it is registered, and may "
        f"publish only under its own device id: `{acl}`. Anonymous clients are refused.",
        "",
        "## Fields every message carries",
        "",
        *_table(envelope, set()),
        "",
        f"Event payloads also carry {tags}, which names the event and picks its other fields. Integers "
        "are written without a decimal point or exponent.",
        "",
        "## Payloads by kind",
        "",
    ]
    seen: set[type] = set()
    for kind in Kind:
        lines += _kind_section(kind, samples, seen)
    missing = set(Reason) - set(_REASONS)
    if missing:
        raise LookupError(f"no explanation for reject reasons {sorted(missing)}")
    lines += [
        "## Invalid messages",
        "",
        "The broker acknowledges a message before it is checked. A message that breaks the contract is "
        "not stored: it is set aside with one of these reasons and a detail for the operator; the device "
        "is not told.",
        "",
        "| reason | meaning |",
        "|---|---|",
        *(f"| `{reason}` | {_REASONS[reason]} |" for reason in Reason),
        "",
    ]
    return "\n".join(lines)


def generated() -> dict[Path, str]:
    """Every published file, relative to the docs directory, with its content."""
    files = {
        schema_path(kind, channel): json.dumps(payload_schema(kind, channel), indent=2, ensure_ascii=False)
        + "\n"
        for kind, channel in sorted(PAYLOADS)
    }
    files[DOCUMENT] = render_document()
    return files


def _orphans(out: Path, files: dict[Path, str]) -> list[Path]:
    found = (p.relative_to(out) for p in (out / SCHEMA_DIR).glob("*.schema.json"))
    return [p for p in found if p not in files]


def stale(out: Path = DEFAULT_OUT) -> list[Path]:
    """Published files under `out` that are missing, differ from the code, or no longer exist in it."""
    files = generated()
    differ = [
        p for p, text in files.items() if not (out / p).is_file() or (out / p).read_text("utf-8") != text
    ]
    return sorted(differ + _orphans(out, files))


def export(out: Path = DEFAULT_OUT) -> list[Path]:
    """Write every published file under `out`, removing schemas of pairs that are gone; returns the paths."""
    files = generated()
    for orphan in _orphans(out, files):
        (out / orphan).unlink()
    for path, text in files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text, "utf-8")
    return sorted(files)
