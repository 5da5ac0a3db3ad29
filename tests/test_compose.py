"""docker-compose.yml, the Dockerfile and the broker's docker.conf, checked without a Docker engine.

What needs no engine is checked here: paths, settings, commands and URLs agree with the code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core.config import Settings
from ingest.supervisor import shares
from tests.deploy_files import (
    COMPOSE,
    DOCKER_CONF,
    ENV_EXAMPLE,
    IMAGE_CONFIG,
    IMAGE_PLUGIN,
    INIT_DYNSEC,
    NEEDED,
    ROOT,
    SHARED_CONF_DIR,
    dockerfile,
    env_example,
    image_default,
    load_compose,
    mosquitto_conf,
    mounts,
    parameters,
    resolve,
    service_using,
    services,
    settings_of,
    yiju_commands,
    yiju_services,
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as docker compose sees it with the variables of .env.example."""
    return load_compose()


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
        settings_of(svc)
        needed = {key: env[key] for key in NEEDED}
        assert shared in (None, needed), f"{name} has other connection settings than the rest"
        shared = needed


def test_commands_are_yiju_subcommands(compose: dict[str, Any]) -> None:
    paths = {
        name: [resolve(args) for args in yiju_commands(svc)] for name, svc in yiju_services(compose).items()
    }
    assert paths["migrate"] == [["db", "migrate"], ["broker", "bootstrap"]]
    assert paths["ingest"] == [["ingest"]]
    assert paths["analytics"] == [["analytics", "run"]]
    assert paths["notify"] == [["notify"]]
    assert paths["api"] == [["api"]]
    assert paths["simulator"] == [["simulate", "run"]]
    assert paths["parking"] == [["parking", "tick"]]
    assert paths["parking-app"] == [["simulate", "parking-app"]]
    for demo_only in ("simulator", "parking-app"):
        assert services(compose)[demo_only]["profiles"] == ["demo"]


def test_host_ports_do_not_collide(compose: dict[str, Any]) -> None:
    published: list[str] = []
    for svc in services(compose).values():
        for entry in svc.get("ports", []):
            host = entry.rsplit(":", 1)[0]  # [ip:]host part
            first, _, last = host.split(":")[-1].partition("-")
            published += [str(p) for p in range(int(first), int(last or first) + 1)]
    assert len(published) == len(set(published)), published


def test_ingest_runs_the_subscription_a_broker_restart_keeps(compose: dict[str, Any]) -> None:
    ingest = services(compose)["ingest"]
    settings = settings_of(ingest)
    (args,) = yiju_commands(ingest)
    # A shared subscription loses what is published between a broker restart and the workers'
    # return; one worker, not a replica, subscribes plainly, and Mosquitto restores that
    # subscription (tests/ingest/test_recovery.py).
    assert not shares(settings, parameters(args)["workers"])
    assert ingest.get("deploy", {}).get("replicas", 1) == 1
    # replicas (`--scale`, with slots set in .env) cannot share a host port or container name
    assert "ports" not in ingest and "container_name" not in ingest


def test_grafana_gets_its_provisioning_and_dashboards(compose: dict[str, Any]) -> None:
    _, grafana = service_using(compose, "grafana/grafana-oss")
    volumes = mounts(grafana)
    assert volumes["/etc/grafana/provisioning"] == "./grafana/provisioning"
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/yiju.yaml").read_text())
    (dashboards,) = [p["options"]["path"] for p in provider["providers"]]
    assert volumes[dashboards] == "./grafana/dashboards"
    source = (ROOT / "grafana/provisioning/datasources/yiju.yaml").read_text().splitlines()
    wanted = {
        v for line in source if not line.lstrip().startswith("#") for v in re.findall(r"\$\{(\w+)\}", line)
    }
    assert wanted and wanted <= grafana["environment"].keys()
    db_name, db = service_using(compose, "timescale/timescaledb")
    env = grafana["environment"]
    assert (
        env["GRAFANA_DB_HOST"] == f"{db_name}:5432"
        and env["GRAFANA_DB_NAME"] == db["environment"]["POSTGRES_DB"]
    )
    assert env["GRAFANA_DB_PASSWORD"] == db["environment"]["POSTGRES_PASSWORD"]


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
