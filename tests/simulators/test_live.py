"""`yiju simulate run`: devices live on their own connections; Ctrl-C leaves every one `offline`."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from core.broker import dynsec
from core.broker.client import host_port, make_client
from core.config import Settings
from simulators.community import load_community
from simulators.labels import read_csv
from tests.processes import wait_until

pytestmark = pytest.mark.slow

SMALL = """
id: {id}
prefix: {id}
name: 测试小区
district: 西陵区
lat: 30.7
lon: 111.29
site_power_limit_kw: 40
buildings:
  - {{id: b1, name: 1栋, floors: 6, households: 36, elevators: 1}}
parking:
  - {{label: R, first: 1, count: 6, space_type: resident,
     availability: [{{days: workdays, start: "08:00", end: "18:00"}}]}}
  - {{label: P, first: 7, count: 2, space_type: public, has_charger: true}}
chargers:
  - {{id: ch-01, space: ps-007, shared_by: 2}}
gates:
  - {{id: gate-1, location: 北门}}
lockers:
  - {{id: lk-1, location: 北门, compartments: 24}}
elevators:
  - {{id: el-1, building: b1, location: 1栋1单元}}
"""


@pytest.fixture
def community(settings: Settings, tmp_path: Path) -> Iterator[Path]:
    cid = f"live{secrets.token_hex(3)}"
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.format(id=cid), encoding="utf-8")
    yield path
    with dynsec.connect(settings.require_mqtt_admin()) as broker:
        broker.remove_devices([d[0] for d in load_community(path).devices()])


def _retained_statuses(settings: Settings, community_id: str, expected: int) -> dict[str, str]:
    """Each device's retained status, as a new subscriber would see it now."""
    found: dict[str, str] = {}
    done = threading.Event()
    client = make_client(settings.require_mqtt(), f"t-{secrets.token_hex(4)}")

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        found[msg.topic.split("/")[3]] = json.loads(msg.payload)["state"]
        if len(found) == expected:
            done.set()

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(f"community/{community_id}/+/+/status", qos=1)
    client.connect(*host_port(settings.require_mqtt()))
    client.loop_start()
    done.wait(15)
    client.disconnect()
    client.loop_stop()
    return found


def test_ctrl_c_sends_every_will_and_writes_the_labels(
    settings: Settings, community: Path, tmp_path: Path
) -> None:
    definition = load_community(community)
    labels = tmp_path / "labels.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators", "run", "--community", str(community), "--speed", "600",
         "--faults", "100", "--labels", str(labels)],
        # PYTHONFAULTHANDLER: a SIGABRT prints every thread's stack, should it hang
        env={**settings.to_env(), "PYTHONFAULTHANDLER": "1"}, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("simulator:" in line for line in lines), timeout=120, what="messages flowing")
        devices = len(definition.devices())
        running = _retained_statuses(settings, definition.id, devices)
        assert len(running) == devices
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            proc.wait(10)
            reader.join(5)
            tail = "".join(lines[-80:])
            raise AssertionError(f"still running 60 s after Ctrl-C; its stderr ends:\n{tail}") from None
        assert code == 0
    finally:
        proc.kill()
    reader.join(5)
    assert any("disconnects with its will" in line for line in lines), lines
    offline = _retained_statuses(settings, definition.id, devices)
    assert offline == dict.fromkeys(offline, "offline") and len(offline) == devices
    header, *rows = labels.read_text(encoding="utf-8").splitlines()
    assert header.startswith("device_id,kind,fault_type,start,end")
    assert rows, "every fault type once a device-day: some start in the first simulated hour"
    # while running, only a device in a simulated network loss shows offline (how many depends on
    # how far the run got on this machine, so the test counts none)
    lost = {row["device_id"] for row in read_csv(labels) if row["fault_type"] == "network_loss"}
    assert {d for d, state in running.items() if state == "offline"} <= lost, (running, lost)
