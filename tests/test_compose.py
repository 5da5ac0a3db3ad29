"""docker-compose.yml, the Dockerfile and the broker's docker.conf, checked without a Docker engine.

What needs no engine is checked here: paths, settings, commands and URLs agree with the code, and
the broker config really starts a Mosquitto 2.0 (Debian's) with the same shared settings.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
import typer
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import AnyUrl
from typer.core import TyperGroup

from core.broker import dynsec
from core.config import Settings
from tests.processes import free_port, wait_until
from yiju.cli import app

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKER_CONF = ROOT / "deploy/mosquitto/docker.conf"
INIT_DYNSEC = ROOT / "deploy/mosquitto/init-dynsec.sh"
SHARED_CONF_DIR = "deploy/mosquitto/conf.d"
IMAGE_PLUGIN = "/usr/lib/mosquitto_dynamic_security.so"  # where eclipse-mosquitto:2.0 has it
IMAGE_CONFIG = "/mosquitto/config/mosquitto.conf"  # the config file the image's CMD reads
NEEDED = {"YIJU_DATABASE_URL", "YIJU_MQTT_URL", "YIJU_MQTT_ADMIN_URL"}

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_]\w*))"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$`, applied to every string."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        current = env.get(name, "")
        if match["op"] and match["op"].endswith("-"):
            return current or match["arg"]
        if not current:
            raise LookupError(f"{name} is not set ({match['arg'] or 'no default'})")
        return current

    return _VARIABLE.sub(substitute, value)


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.lstrip().startswith("#")}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as docker compose sees it with the variables of .env.example."""
    interpolated: dict[str, Any] = interpolate(yaml.safe_load(COMPOSE.read_text()), env_example())
    return interpolated


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def yiju_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run our image."""
    return {
        name: svc
        for name, svc in services(compose).items()
        if "build" in svc or str(svc.get("image", "")).startswith("yiju:")
    }


def service_using(compose: dict[str, Any], image: str) -> tuple[str, dict[str, Any]]:
    """The one long-running service of an image (its init helpers have no restart policy)."""
    matches = [
        (name, svc)
        for name, svc in services(compose).items()
        if str(svc.get("image", "")).split(":")[0] == image and svc.get("restart", "no") != "no"
    ]
    assert len(matches) == 1, f"expected one long-running {image} service, found {matches}"
    return matches[0]


def mounts(svc: dict[str, Any]) -> dict[str, str]:
    """Container path -> source (`./...` for bind mounts, a name for volumes)."""
    found = {}
    for entry in svc.get("volumes", []):
        if isinstance(entry, dict):
            found[entry["target"]] = entry["source"]
        else:
            source, target = entry.split(":")[:2]
            found[target] = source
    return found


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and not line.startswith("#"))
    ]


def image_default(instruction: str) -> list[str]:
    values = [json.loads(rest) for word, rest in dockerfile() if word == instruction]
    assert values, f"the Dockerfile has no {instruction} (exec form)"
    last: list[str] = values[-1]
    return last


def mosquitto_conf(path: Path) -> dict[str, list[str]]:
    """directive -> its values, in file order."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            directive, _, value = line.strip().partition(" ")
            found.setdefault(directive, []).append(value.strip())
    return found


def yiju_commands(svc: dict[str, Any]) -> list[list[str]]:
    """The argument lists given to `yiju` by a service of our image."""
    entrypoint = svc.get("entrypoint", image_default("ENTRYPOINT"))
    command = svc.get("command", image_default("CMD"))
    command = shlex.split(command) if isinstance(command, str) else command
    if entrypoint == ["yiju"]:
        return [command]
    assert entrypoint in (["/bin/sh", "-c"], ["sh", "-c"]), f"unexpected entrypoint {entrypoint}"
    runs = [shlex.split(part) for part in " ".join(command).split("&&")]
    assert all(run[0] == "yiju" for run in runs), f"not only yiju commands: {command}"
    return [run[1:] for run in runs]


def resolve(args: list[str]) -> list[str]:
    """The command path of `yiju <args>`; its options are parsed, so a wrong one raises."""
    command = typer.main.get_command(app)
    path: list[str] = []
    rest = list(args)
    while isinstance(command, TyperGroup):
        assert rest, f"`yiju {' '.join(path)}` needs a subcommand"
        name = rest.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, f"`yiju {' '.join([*path, name])}` is not a command"
        command, path = sub, [*path, name]
    command.make_context(" ".join(["yiju", *path]), rest)
    return path


def test_env_example_sets_every_required_variable(compose: dict[str, Any]) -> None:
    # Building `compose` already failed on a variable unset and without a default.
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert required, "no ${VAR:?...} in docker-compose.yml"
    assert required <= env_example().keys()


def test_bind_mounts_exist_and_volumes_are_declared(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        for target, source in mounts(svc).items():
            if source.startswith((".", "/")):
                host = (ROOT / source).resolve()
                assert host.is_relative_to(ROOT), f"{name}: {source} is outside the repo"
                assert host.exists(), f"{name}: {source} (mounted at {target}) does not exist"
            else:
                assert source in compose.get("volumes", {}), f"{name}: volume {source} not declared"


def test_depends_on_targets_exist(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        depends = svc.get("depends_on", {})
        conditions = depends if isinstance(depends, dict) else {target: {} for target in depends}
        for target, spec in conditions.items():
            assert target in services(compose) and target != name, f"{name} depends on {target}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in services(compose)[target], f"{target} has no healthcheck"
            if condition == "service_completed_successfully":
                assert services(compose)[target].get("restart", "no") == "no", f"{target}: one-shot"


def test_yiju_settings_are_settings_fields(compose: dict[str, Any]) -> None:
    ours = yiju_services(compose)
    assert {"migrate", "ingest"} <= ours.keys()
    shared = None
    for name, svc in ours.items():
        env = svc.get("environment", {})
        assert isinstance(env, dict), f"{name}: write environment as a mapping"
        assert env.keys() >= NEEDED, f"{name} lacks {NEEDED - env.keys()}"
        unknown = [
            key for key in env if key.startswith("YIJU_") and key[5:].lower() not in Settings.model_fields
        ]
        assert not unknown, f"{name}: {unknown} are not fields of core.config.Settings"
        Settings.model_validate({key[5:].lower(): value for key, value in env.items()})
        needed = {key: env[key] for key in NEEDED}
        assert shared in (None, needed), f"{name} has other connection settings than the rest"
        shared = needed


def test_commands_are_yiju_subcommands(compose: dict[str, Any]) -> None:
    paths = {
        name: [resolve(args) for args in yiju_commands(svc)] for name, svc in yiju_services(compose).items()
    }
    assert paths["migrate"] == [["db", "migrate"], ["broker", "bootstrap"]]
    assert paths["ingest"] == [["ingest"]]


def test_database_is_community_timescaledb(compose: dict[str, Any]) -> None:
    name, db = service_using(compose, "timescale/timescaledb")
    tag = db["image"].split(":")[1]
    # The -oss tags carry the Apache edition, where policies and continuous aggregates fail.
    assert re.fullmatch(r"(latest|\d+\.\d+\.\d+)-pg1[5-9]", tag), tag
    assert "/var/lib/postgresql/data" in mounts(db)
    assert "pg_isready" in db["healthcheck"]["test"]
    env = db["environment"]
    for svc in yiju_services(compose).values():
        url = urlsplit(svc["environment"]["YIJU_DATABASE_URL"])
        assert url.scheme == "postgresql" and url.hostname == name and (url.port or 5432) == 5432
        assert url.path == "/" + env["POSTGRES_DB"]
        assert url.username == env.get("POSTGRES_USER", "postgres")
        assert url.password == env["POSTGRES_PASSWORD"]


def test_mqtt_urls_point_at_the_broker(compose: dict[str, Any]) -> None:
    name, broker = service_using(compose, "eclipse-mosquitto")
    listener = mosquitto_conf(DOCKER_CONF)["listener"]
    assert listener == ["1883"]
    assert "1883:1883" in broker["ports"]
    admin_user = re.search(r"admin=\$\{DYNSEC_ADMIN:-([\w-]+)\}", INIT_DYNSEC.read_text())
    assert admin_user
    for svc in yiju_services(compose).values():
        mqtt_url = urlsplit(svc["environment"]["YIJU_MQTT_URL"])
        admin_url = urlsplit(svc["environment"]["YIJU_MQTT_ADMIN_URL"])
        for url in (mqtt_url, admin_url):
            assert url.scheme == "mqtt" and url.hostname == name and url.port == int(listener[0])
        assert admin_url.username == admin_user[1]
        assert admin_url.password == broker["environment"]["YIJU_BROKER_ADMIN_PASSWORD"]


def test_broker_config_matches_the_image_and_the_local_run(compose: dict[str, Any]) -> None:
    _, broker = service_using(compose, "eclipse-mosquitto")
    assert re.fullmatch(r"eclipse-mosquitto:2\.0\.\d+", broker["image"]), "pin a 2.0.x image"
    conf = mosquitto_conf(DOCKER_CONF)
    volumes = mounts(broker)
    assert volumes[IMAGE_CONFIG] == "./" + str(DOCKER_CONF.relative_to(ROOT))
    assert conf["plugin"] == [IMAGE_PLUGIN]
    assert next(iter(conf)) == "include_dir", "per_listener_settings must come before the listener"
    (include,) = conf["include_dir"]
    local = re.search(r"^include_dir \$ROOT/(\S+)$", (ROOT / "scripts/services").read_text(), re.M)
    assert local and local[1] == SHARED_CONF_DIR
    assert volumes[include] == "./" + SHARED_CONF_DIR
    data = next(target for target, source in volumes.items() if not source.startswith((".", "/")))
    (persistence,) = conf["persistence_location"]
    (dynsec_file,) = conf["plugin_opt_config_file"]
    assert persistence.rstrip("/") == data and persistence.endswith("/")
    assert Path(dynsec_file).parent == Path(data)
    assert f"file=${{DYNSEC_FILE:-{dynsec_file}}}" in INIT_DYNSEC.read_text()

    init_name = next(iter(broker["depends_on"]))
    init = services(compose)[init_name]
    assert broker["depends_on"][init_name]["condition"] == "service_completed_successfully"
    assert init["image"] == broker["image"]
    assert mounts(init)[data] == volumes[data]
    script = next(target for target, source in mounts(init).items() if source.endswith(INIT_DYNSEC.name))
    assert init["command"] == ["sh", script]


def test_dockerfile_installs_the_project() -> None:
    steps = dockerfile()
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", steps[0][1]), steps[0]
    assert image_default("ENTRYPOINT") == ["yiju"]
    copied = [rest.split()[1] for word, rest in steps if word == "COPY" and rest.split()[0] == "."]
    assert copied, "the project is not copied"
    assert any(word == "RUN" and f"pip install {copied[0]}" in rest for word, rest in steps)
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".local", ".git", "tests"} <= ignored
    assert not ignored & {"pyproject.toml", "core", "ingest", "yiju", "."}


def compose_cli() -> list[str] | None:
    """`docker compose` (the plugin) or a standalone v2 `docker-compose`; both parse without an engine."""
    for cli in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cli[0]) is None:
            continue
        version = subprocess.run([*cli, "version"], capture_output=True, text=True, check=False)
        if version.returncode == 0 and " v2." in version.stdout:
            return cli
    return None


def test_docker_compose_config_validates() -> None:
    cli = compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose v2 (`docker compose` plugin or `docker-compose`): schema not checked")
    env = {key: value for key, value in os.environ.items() if not key.startswith("YIJU_")}
    result = subprocess.run(
        [*cli, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr


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
