"""`yiju simulate seed`: the demo community in the registry and on the broker, idempotently."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import psycopg
import pytest

from core.broker import dynsec
from core.broker.client import host_port, make_client
from core.config import Settings
from core.contract.topics import Kind
from simulators.community import Community, load_community, resolve
from simulators.seed import seed_community


@pytest.fixture
def demo(settings: Settings) -> Iterator[Community]:
    """The demo under a unique id and prefix (the broker is shared); its rows and accounts removed after."""
    tag = secrets.token_hex(3)
    community = load_community(resolve("demo")).model_copy(update={"id": f"t{tag}", "prefix": f"t{tag}"})
    yield community
    ids = [d[0] for d in community.devices()]
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM chargers WHERE device_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM parking_spaces WHERE community_id = %s", (community.id,))
        conn.execute("DELETE FROM devices WHERE community_id = %s", (community.id,))
        conn.execute("DELETE FROM buildings WHERE community_id = %s", (community.id,))
        conn.execute("DELETE FROM communities WHERE id = %s", (community.id,))
    with dynsec.connect(settings.require_mqtt_admin()) as broker:
        broker.remove_devices(ids)


def _count(conn: psycopg.Connection, query: str, community_id: str) -> int:
    row = conn.execute(query, (community_id,)).fetchone()
    return int(row[0]) if row else 0


def _can_connect(settings: Settings, username: str, password: str) -> bool:
    client = make_client(settings.require_mqtt(), f"t-{secrets.token_hex(4)}")
    client.username_pw_set(username, password)
    answer: list[bool] = []
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        answer.append(not getattr(reason, "is_failure", False))
        done.set()

    client.on_connect = on_connect
    client.connect(*host_port(settings.require_mqtt()))
    client.loop_start()
    try:
        done.wait(10)
    finally:
        client.disconnect()
        client.loop_stop()
    return bool(answer and answer[0])


def test_seed_writes_registry_and_accounts_once(
    settings: Settings, conn: psycopg.Connection, demo: Community
) -> None:
    with dynsec.connect(settings.require_mqtt_admin()) as broker:
        first = seed_community(conn, broker, demo)
        second = seed_community(conn, broker, demo)
        assert not broker.existing_clients(["no-such-device-xyz"])

    devices = demo.devices()
    assert first.added == {
        "communities": 1,
        "buildings": len(demo.buildings),
        "devices": len(devices),
        "parking spaces": len(demo.spaces),
        "chargers": len(demo.chargers),
        "broker accounts": len(devices),
    }
    assert sum(second.added.values()) == 0 and not second.passwords
    cid = demo.id
    assert _count(conn, "SELECT count(*) FROM devices WHERE community_id = %s", cid) == len(devices)
    assert _count(conn, "SELECT count(*) FROM buildings WHERE community_id = %s", cid) == len(demo.buildings)
    linked = "SELECT count(sensor_device_id) FROM parking_spaces WHERE community_id = %s"
    assert _count(conn, linked, cid) == len(demo.spaces)
    shared = """SELECT sum(c.shared_by) FROM chargers c JOIN devices d ON d.id = c.device_id
                WHERE d.community_id = %s"""
    assert _count(conn, shared, cid) == sum(c.shared_by for c in demo.chargers)
    row = conn.execute(
        "SELECT availability, space_type FROM parking_spaces WHERE id = %s", (demo.full_id("ps-138"),)
    ).fetchone()
    assert row == ([{"days": "daily", "start": "19:00", "end": "07:00"}], "street")
    power = "SELECT site_power_limit_kw FROM communities WHERE id = %s"
    assert _count(conn, power, cid) == demo.site_power_limit_kw
    elevator = demo.full_id("el-b1-1")
    assert first.devices[elevator] is Kind.ELEVATOR
    assert _can_connect(settings, elevator, first.passwords[elevator])
    assert not _can_connect(settings, elevator, "wrong-password")


def test_reset_gives_the_named_devices_new_passwords(
    settings: Settings, conn: psycopg.Connection, demo: Community
) -> None:
    three_spaces = [demo.parking[0].model_copy(update={"count": 3})]
    small = demo.model_copy(update={"parking": three_spaces, "chargers": []})
    assert len(small.devices()) == 3 + len(demo.gates) + len(demo.lockers) + len(demo.elevators)
    with dynsec.connect(settings.require_mqtt_admin()) as broker:
        first = seed_community(conn, broker, small)
        device, other = small.full_id("ps-001"), small.full_id("ps-002")
        again = seed_community(conn, broker, small, password=lambda i: f"derived-{i}", reset=[device])
    assert again.added == {"passwords reset": 1} and again.passwords == {device: f"derived-{device}"}
    assert not _can_connect(settings, device, first.passwords[device])
    assert _can_connect(settings, device, f"derived-{device}")
    assert _can_connect(settings, other, first.passwords[other])
