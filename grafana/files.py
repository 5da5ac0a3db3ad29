"""Where the provisioning files live, and the dashboards built into them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grafana.boards import FOLDERS
from grafana.builder import Json

ROOT = Path(__file__).resolve().parent
DASHBOARDS = ROOT / "dashboards"
PROVISIONING = ROOT / "provisioning"
DATASOURCES = PROVISIONING / "datasources" / "yiju.yaml"
ALERTING = PROVISIONING / "alerting" / "yiju.yaml"


@dataclass(frozen=True)
class Dashboard:
    """One dashboard file: its folder (the directory's name) and its JSON."""

    folder: str
    path: Path
    body: Json


def folder_uid(title: str) -> str:
    """The stable uid sync gives a folder."""
    return "yiju-" + title.lower()


def render(body: Json) -> str:
    """The committed form of a dashboard: keys in build order, two-space indent, UTF-8 as is."""
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def built() -> dict[Path, str]:
    """Every dashboard file as the builders make it now."""
    out = {}
    for folder, makers in FOLDERS.items():
        for make in makers:
            body = make()
            out[DASHBOARDS / folder / f"{body['uid'].removeprefix('yiju-')}.json"] = render(body)
    return out


def write() -> list[Path]:
    """Write the built dashboards; returns the files that changed."""
    changed = []
    for path, text in built().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale() -> list[Path]:
    """Dashboard files that differ from their builders' output, or that no builder makes."""
    wanted = built()
    present = set(DASHBOARDS.glob("*/*.json"))
    out = [p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    return sorted(out + [p for p in present if p not in wanted])


def dashboards() -> list[Dashboard]:
    """The committed dashboard files, by folder and name."""
    return [
        Dashboard(p.parent.name, p, json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(DASHBOARDS.glob("*/*.json"))
    ]


def load_yaml(path: Path) -> Any:
    """A provisioning file."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))
