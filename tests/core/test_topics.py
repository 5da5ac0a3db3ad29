"""parse_topic accepts exactly the topics of contract v1 and says precisely why it refuses one."""

from __future__ import annotations

import pytest

from core.contract.topics import Channel, Kind, Topic, TopicError, device_topic, is_valid_id, parse_topic

ID_64 = "a" * 64


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (
            "community/c-1/ev_charger/ch-01/telemetry",
            Topic("c-1", Kind.EV_CHARGER, "ch-01", Channel.TELEMETRY),
        ),
        ("community/42/elevator/e1/event", Topic("42", Kind.ELEVATOR, "e1", Channel.EVENT)),
        ("community/ab/parking_space/0-/status", Topic("ab", Kind.PARKING_SPACE, "0-", Channel.STATUS)),
        (
            f"community/{ID_64}/parcel_locker/{ID_64}/event",
            Topic(ID_64, Kind.PARCEL_LOCKER, ID_64, Channel.EVENT),
        ),
    ],
)
def test_accepts_contract_topics(topic: str, expected: Topic) -> None:
    parsed = parse_topic(topic)
    assert parsed == expected
    assert str(parsed) == topic == device_topic(*parsed)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("community/c-1/ev_charger/ch-1", "topic must be"),
        ("community/c-1/ev_charger/ch-1/telemetry/extra", "topic must be"),
        ("/community/c-1/ev_charger/ch-1/telemetry", "topic must be"),
        ("community/c-1/ev_charger/ch-1/telemetry/", "topic must be"),
        ("Community/c-1/ev_charger/ch-1/telemetry", "topic must be"),
        ("$share/g/community/c-1/ev_charger/ch-1/telemetry", "topic must be"),
        ("community/c/ev_charger/ch-1/telemetry", "community id"),
        ("community/-c1/ev_charger/ch-1/telemetry", "community id"),
        ("community/C-1/ev_charger/ch-1/telemetry", "community id"),
        ("community/c_1/ev_charger/ch-1/telemetry", "community id"),
        ("community/+/ev_charger/ch-1/telemetry", "community id"),
        (f"community/{ID_64}a/ev_charger/ch-1/telemetry", "community id"),
        ("community/c-1/ev_charger/ch-1\n/telemetry", "device id"),
        ("community/c-1/ev_charger//telemetry", "device id"),
        ("community/c-1/ev_charger/ché-1/telemetry", "device id"),
        ("community/c-1/ev_charger/#/telemetry", "device id"),
        ("community/c-1/ev-charger/ch-1/telemetry", "unknown kind"),
        ("community/c-1/EV_CHARGER/ch-1/telemetry", "unknown kind"),
        ("community/c-1/ev_charger/ch-1/telemetrie", "unknown channel"),
        ("community/c-1/ev_charger/ch-1/+", "unknown channel"),
    ],
)
def test_rejects_other_topics_with_the_reason(topic: str, reason: str) -> None:
    with pytest.raises(TopicError, match=reason):
        parse_topic(topic)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("ab", True),
        ("0a", True),
        ("a-", True),
        (ID_64, True),
        ("a", False),
        ("", False),
        (ID_64 + "a", False),
        ("-ab", False),
        ("ab\n", False),
        ("a b", False),
        ("a.b", False),
        ("ａb", False),
    ],
)
def test_id_pattern(value: str, valid: bool) -> None:
    assert is_valid_id(value) is valid
