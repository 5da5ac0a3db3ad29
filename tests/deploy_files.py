"""Readers of docker-compose.yml, the Dockerfile and the broker configs, shared by the deploy tests."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import typer
import yaml
from typer.core import TyperGroup

from core.config import Settings
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


def load_compose() -> dict[str, Any]:
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


def settings_of(svc: dict[str, Any]) -> Settings:
    """The `Settings` a service's YIJU_* environment gives (validated: a bad value raises)."""
    env = svc.get("environment", {})
    return Settings.model_validate({key[5:].lower(): value for key, value in env.items()})


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
    return _parse(args)[0]


def parameters(args: list[str]) -> dict[str, Any]:
    """The parameters `yiju <args>` runs with, defaults included."""
    return _parse(args)[1]


def _parse(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    command = typer.main.get_command(app)
    path: list[str] = []
    rest = list(args)
    while isinstance(command, TyperGroup):
        assert rest, f"`yiju {' '.join(path)}` needs a subcommand"
        name = rest.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, f"`yiju {' '.join([*path, name])}` is not a command"
        command, path = sub, [*path, name]
    context = command.make_context(" ".join(["yiju", *path]), rest)
    return path, dict(context.params)
