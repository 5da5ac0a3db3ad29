"""The broker refuses anonymous clients and devices publishing under another device's id."""

from __future__ import annotations

import psycopg
import pytest

from core.config import Settings
from core.contract.codec import encode
from core.contract.topics import Kind
from tests.factories import Fleet, Publisher
from tests.processes import IngestProcess, wait_until


def test_anonymous_client_is_refused(settings: Settings) -> None:
    pub = Publisher(settings, "", "")
    try:
        assert pub.refused is not None and "authori" in str(pub.refused).lower()
    finally:
        pub.close()


def test_wrong_password_is_refused(settings: Settings, fleet: Fleet) -> None:
    (device,) = fleet.add(Kind.ELEVATOR)
    pub = Publisher(settings, device.id, device.password + "x")
    try:
        assert pub.refused is not None
    finally:
        pub.close()


@pytest.mark.parametrize("victim_kind", [Kind.ELEVATOR, Kind.EV_CHARGER])
def test_device_cannot_publish_as_another_device(
    settings: Settings, fleet: Fleet, ingest: IngestProcess, conn: psycopg.Connection, victim_kind: Kind
) -> None:
    mallory, victim = fleet.add(Kind.ELEVATOR)[0], fleet.add(victim_kind)[0]
    pub = Publisher(settings, mallory.id, mallory.password)
    forged = (victim.topic("telemetry"), encode(victim.messages.telemetry()))
    own = (mallory.topic("telemetry"), encode(mallory.messages.telemetry()))
    reasons = pub.publish_all([forged, own])
    pub.close()
    assert [getattr(r, "value", r) for r in reasons] == [135, 0]  # 135: not authorized (MQTT v5)
    wait_until(lambda: fleet.count_rows("elevator_telemetry", [mallory.id]) == 1, 30, "own message stored")
    table = "elevator_telemetry" if victim_kind is Kind.ELEVATOR else "ev_charger_telemetry"
    assert fleet.count_rows(table, [victim.id]) == 0
    assert conn.execute("SELECT count(*) FROM ingest_rejects WHERE topic = %s", (forged[0],)).fetchone() == (
        0,
    )
