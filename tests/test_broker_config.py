"""The broker's docker.conf really starts a Mosquitto 2.0 (Debian's) with the repo's shared settings."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import AnyUrl

from core.broker import dynsec
from tests.deploy_files import DOCKER_CONF, INIT_DYNSEC, ROOT, load_compose, mounts, service_using
from tests.processes import free_port, wait_until


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as docker compose sees it with the variables of .env.example."""
    return load_compose()


def connack(port: int, username: str | None = None, password: str | None = None) -> ReasonCode | None:
    """The broker's answer to a login, or None if nothing listens yet."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    answers: list[ReasonCode] = []
    client.on_connect = lambda _client, _userdata, _flags, code, _props: answers.append(code)
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except OSError:
        return None
    deadline = time.monotonic() + 5
    while not answers and time.monotonic() < deadline and client.loop(timeout=0.05) == 0:
        pass
    client.disconnect()
    return answers[0] if answers else None


class LocalBroker:
    """Debian's mosquitto running docker.conf with the container's paths moved to a temp dir."""

    def __init__(self, compose: dict[str, Any], workdir: Path) -> None:
        plugins = sorted(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so"))
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not (Path(self.binary).exists() and plugins and shutil.which("mosquitto_ctrl")):
            pytest.skip("Mosquitto with mosquitto_ctrl and the dynamic-security plugin is not installed")
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        _, broker = service_using(compose, "eclipse-mosquitto")
        # Bind mounts are the repo's files, named volumes become folders here; longest container
        # path first, so a file mount wins over its folder.
        moved = sorted(
            (
                (target, str(ROOT / source) if source.startswith(".") else str(workdir / source))
                for target, source in mounts(broker).items()
            ),
            key=lambda pair: -len(pair[0]),
        )
        (volume,) = [source for source in mounts(broker).values() if not source.startswith(".")]
        self.data = workdir / volume
        self.data.mkdir()
        lines = []
        for line in DOCKER_CONF.read_text().splitlines():
            directive, _, value = line.partition(" ")
            if directive == "listener":
                line = f"listener {self.port} 127.0.0.1"
            elif directive == "plugin":
                line = f"plugin {plugins[0]}"
            elif value.startswith("/") and not directive.startswith("#"):
                target, host = next(((t, h) for t, h in moved if value.startswith(t)), ("", ""))
                assert target, f"{directive} {value}: not on a volume the compose file mounts"
                line = f"{directive} {host}{value[len(target) :]}"
            lines.append(line)
        self.config = workdir / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.log = workdir / "mosquitto.log"
        if os.geteuid() == 0:  # as in the image: the broker drops root and must write here
            for path in (workdir, self.data):
                shutil.chown(path, "mosquitto", "mosquitto")

    def init_dynsec(self) -> subprocess.CompletedProcess[str]:
        env = os.environ | {
            "DYNSEC_FILE": str(self.data / "dynamic-security.json"),
            "YIJU_BROKER_ADMIN_PASSWORD": self.password,
        }
        return subprocess.run(["sh", str(INIT_DYNSEC)], env=env, capture_output=True, text=True, check=True)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        proc = self.proc
        wait_until(
            lambda: proc.poll() is not None or connack(self.port, "yiju-admin", self.password) is not None,
            timeout=20,
            what="mosquitto to accept connections",
        )
        assert proc.poll() is None, f"mosquitto exited:\n{self.log.read_text()}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture
def local_broker(compose: dict[str, Any]) -> Iterator[LocalBroker]:
    workdir = Path(tempfile.mkdtemp(prefix="yiju-mosquitto-"))
    broker = None
    try:
        broker = LocalBroker(compose, workdir)
        yield broker
    finally:
        if broker:
            broker.stop()
        shutil.rmtree(workdir)


def test_broker_config_starts_a_real_mosquitto(local_broker: LocalBroker) -> None:
    first = local_broker.init_dynsec()
    dynsec_file = local_broker.data / "dynamic-security.json"
    created = dynsec_file.read_bytes()
    assert oct(dynsec_file.stat().st_mode & 0o777) == "0o600", first.stdout
    assert "exists" in local_broker.init_dynsec().stdout
    assert dynsec_file.read_bytes() == created, "a second init-dynsec.sh run changed the file"

    local_broker.start()
    port = local_broker.port
    anonymous = connack(port)
    assert anonymous is not None and anonymous.is_failure, "anonymous clients must be refused"
    wrong = connack(port, "yiju-admin", "wrong")
    assert wrong is not None and wrong.is_failure
    admin = connack(port, "yiju-admin", local_broker.password)
    assert admin is not None and not admin.is_failure, local_broker.log.read_text()

    # What `yiju broker bootstrap` does in the migrate service; the account must survive a restart.
    ingest_password = secrets.token_hex(12)
    with dynsec.connect(AnyUrl(f"mqtt://yiju-admin:{local_broker.password}@127.0.0.1:{port}")) as broker:
        broker.ensure_ingest_account("yiju-ingest", ingest_password)
    local_broker.stop()
    local_broker.start()
    ingest = connack(port, "yiju-ingest", ingest_password)
    assert ingest is not None and not ingest.is_failure, local_broker.log.read_text()
