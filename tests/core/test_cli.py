"""The commands people and scripts rely on, run as a user would (typer's runner, real services)."""

from __future__ import annotations

import secrets

import psycopg
import pytest
from typer.testing import CliRunner

from core.broker import dynsec
from core.config import Settings
from core.contract.codec import encode
from core.contract.topics import Kind
from tests.factories import Fleet, Publisher
from tests.processes import IngestProcess, wait_until
from yiju.cli import app


def test_add_community_and_device_prints_working_credentials(
    cli: CliRunner, settings: Settings, conn: psycopg.Connection
) -> None:
    cid, did = f"cli-{secrets.token_hex(3)}", f"lift-{secrets.token_hex(3)}"
    added = cli.invoke(
        app,
        [
            "communities",
            "add",
            "--id",
            cid,
            "--name",
            "学院街",
            "--district",
            "西陵区",
            "--lat",
            "30.7",
            "--lon",
            "111.3",
        ],
    )
    assert added.exit_code == 0, added.output
    device = cli.invoke(app, ["devices", "add", "--community", cid, "--kind", "elevator", "--id", did])
    assert device.exit_code == 0, device.output
    creds = dict(line.split("=", 1) for line in device.stdout.splitlines() if "=" in line)
    assert creds["username"] == did and len(creds["password"]) >= 24
    pub = Publisher(settings, creds["username"], creds["password"])
    try:
        assert pub.refused is None
    finally:
        pub.close()
    again = cli.invoke(app, ["devices", "add", "--community", cid, "--kind", "elevator", "--id", did])
    assert again.exit_code == 2 and "already exists" in again.output
    with dynsec.connect(settings.require_mqtt_admin()) as broker:
        broker.remove_device(did)
    conn.execute("DELETE FROM devices WHERE id = %s", (did,))
    conn.execute("DELETE FROM communities WHERE id = %s", (cid,))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["devices", "add", "--community", "nowhere-x", "--kind", "elevator", "--id", "lift-zz"],
            "does not exist",
        ),
        (["devices", "add", "--community", "c1", "--kind", "toaster", "--id", "lift-zz"], "toaster"),
        (["devices", "add", "--community", "c1", "--kind", "elevator", "--id", "Lift_1"], "must match"),
        (
            [
                "communities",
                "add",
                "--id",
                "c-x",
                "--name",
                "n",
                "--district",
                "d",
                "--lat",
                "91",
                "--lon",
                "0",
            ],
            "lat",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(cli: CliRunner, args: list[str], message: str) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_migrate_twice_is_a_no_op(cli: CliRunner) -> None:
    result = cli.invoke(app, ["db", "migrate"])
    assert result.exit_code == 0 and "migrations applied: 0" in result.output


def test_bootstrap_again_leaves_a_running_ingest_connected(
    cli: CliRunner, settings: Settings, fleet: Fleet, ingest: IngestProcess
) -> None:
    (device,) = fleet.add(Kind.PARKING_SPACE)
    kicks = ingest.log.read_text().count("disconnected from broker")
    result = cli.invoke(app, ["broker", "bootstrap"])
    assert result.exit_code == 0, result.output
    # The broker closes a kicked client's socket before it answers the command; a message
    # stored after the answer means ingest has read past any such close.
    pub = Publisher(settings, device.id, device.password)
    pub.publish_all([(device.topic("telemetry"), encode(device.messages.telemetry()))])
    pub.close()
    wait_until(lambda: fleet.count_rows("parking_space_telemetry") == 1, 30, "message stored")
    assert ingest.log.read_text().count("disconnected from broker") == kicks


def test_bootstrap_makes_the_notifier_account_and_add_alarm_reader_a_read_only_one(
    cli: CliRunner, settings: Settings, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    (lift,) = fleet.add(Kind.ELEVATOR)
    host, port = settings.require_mqtt().host, settings.require_mqtt().port
    notifier, password = f"t-notify-{secrets.token_hex(3)}", secrets.token_hex(12)
    monkeypatch.setenv("YIJU_NOTIFY_MQTT_URL", f"mqtt://{notifier}:{password}@{host}:{port}")
    reader = f"t-tool-{secrets.token_hex(3)}"
    try:
        result = cli.invoke(app, ["broker", "bootstrap"])
        assert result.exit_code == 0 and f"{notifier!r} ready" in result.output, result.output
        add = ["broker", "add-alarm-reader", "--username", reader, "--community", fleet.community_id]
        result = cli.invoke(app, add)
        assert result.exit_code == 0, result.output
        creds = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        for username, secret in ((notifier, password), (reader, creds["password"])):
            pub = Publisher(settings, username, secret)
            pub.close()
            assert pub.refused is None, username
        # a device's (or a service's) account is never turned into a reader
        result = cli.invoke(
            app, ["broker", "add-alarm-reader", "--username", lift.id, "--community", fleet.community_id]
        )
        assert result.exit_code == 2 and "another kind" in result.output
        result = cli.invoke(app, [*add[:-1], "nowhere-x"])
        assert result.exit_code == 2 and "no such communities: nowhere-x" in result.output
    finally:
        for username in (notifier, reader):
            fleet.broker.remove_account(username)
        fleet.broker.run(
            [{"command": "deleteRole", "rolename": dynsec.alarm_reader_role(fleet.community_id)}],
            tolerate=("not found",),
        )


def test_db_stats_counts_what_was_stored_lately_and_its_rate(
    cli: CliRunner, conn: psycopg.Connection, fleet: Fleet
) -> None:
    (space,) = fleet.add(Kind.PARKING_SPACE)
    conn.execute(
        "INSERT INTO parking_space_telemetry (device_id, ts, boot, seq, occupied, battery_pct, rssi_dbm)"
        " SELECT %s, now() - make_interval(secs => i), 0, i, true, 80, -70 FROM generate_series(1, 120) i",
        (space.id,),
    )
    result = cli.invoke(app, ["db", "stats", "--window", "1 minute"])
    assert result.exit_code == 0, result.output
    counts = {
        cells[1].strip(): int(cells[2])
        for line in result.output.splitlines()
        if len(cells := line.split("│")) > 3 and cells[2].strip().isdigit() and "rejected" not in line
    }
    assert counts["parking_space_telemetry"] >= 120  # ingested just now (ingested_at defaults to now)
    assert f"{sum(counts.values()) / 60:.1f} messages/s stored" in result.output
