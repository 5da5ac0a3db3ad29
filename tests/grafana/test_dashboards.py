"""The dashboard JSON and provisioning files hold together (no Grafana needed)."""

from __future__ import annotations

import re
from itertools import combinations
from typing import Any

import pytest

from grafana import files
from grafana.builder import WIDTH

BOARDS = files.dashboards()
DATASOURCE = files.load_yaml(files.DATASOURCES)["datasources"][0]
ALERTING = files.load_yaml(files.ALERTING)
USE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")
IDS = [b.body["uid"] for b in BOARDS]


def _walk(node: Any, key: str) -> list[Any]:
    """Every value stored under `key`, anywhere in the JSON."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [x for v in node.values() for x in _walk(v, key)]
    if isinstance(node, list):
        return [x for v in node for x in _walk(v, key)]
    return []


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_committed_json_is_what_the_builders_make() -> None:
    assert files.stale() == [], "run `yiju grafana build`"


def test_every_issue_dashboard_is_there_in_folders() -> None:
    assert sorted(IDS) == sorted(
        ["yiju-city", "yiju-community", "yiju-ev", "yiju-parking", "yiju-lockers", "yiju-elevators",
         "yiju-alarms", "yiju-platform"]
    )  # fmt: skip
    assert {b.folder for b in BOARDS} == {"Overview", "Facilities", "Operations"}


def test_uids_are_unique_and_stable() -> None:
    assert len(set(IDS)) == len(IDS)
    assert all(re.fullmatch(r"[a-z0-9-]{1,40}", uid) for uid in IDS)  # Grafana's uid limit is 40


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_panel_ids_unique_and_grid_without_overlap(board: files.Dashboard) -> None:
    panels = board.body["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    boxes = [p["gridPos"] for p in panels]
    for box in boxes:
        assert box["x"] >= 0 and box["y"] >= 0 and box["w"] > 0 and box["h"] > 0
        assert box["x"] + box["w"] <= WIDTH
    for a, b in combinations(boxes, 2):
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, f"panels overlap: {a} {b}"


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_every_datasource_is_the_provisioned_one(board: files.Dashboard) -> None:
    refs = _walk(board.body, "datasource")
    assert refs, "no data source at all"
    for ref in refs:
        assert ref == {"type": DATASOURCE["type"], "uid": DATASOURCE["uid"]}
    for panel in board.body["panels"]:
        assert (panel["type"] == "text") != bool(panel.get("targets")), panel["title"]


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_every_variable_used_is_defined(board: files.Dashboard) -> None:
    defined = {v["name"] for v in board.body["templating"]["list"]}
    used = set()
    for text in _strings(board.body):
        used |= {next(g for g in m.groups() if g) for m in USE.finditer(text)}
    undefined = {name for name in used if not name.startswith("__")} - defined
    assert not undefined, f"used but not defined: {undefined}"
    # variables before the ones whose queries use them
    for i, var in enumerate(board.body["templating"]["list"]):
        refs = {next(g for g in m.groups() if g) for m in USE.finditer(var.get("query", ""))}
        earlier = {v["name"] for v in board.body["templating"]["list"][:i]}
        assert {r for r in refs if not r.startswith("__")} <= earlier, var["name"]


def test_datasource_provisioning() -> None:
    assert DATASOURCE["type"] == "grafana-postgresql-datasource"
    assert DATASOURCE["jsonData"]["timescaledb"] is True
    secrets = (DATASOURCE["url"], DATASOURCE["user"], DATASOURCE["secureJsonData"]["password"])
    assert all(s.startswith("${") for s in secrets), "credentials come from the environment"


def test_dashboard_provider_reads_folders_from_files() -> None:
    provider = files.load_yaml(files.PROVISIONING / "dashboards" / "yiju.yaml")["providers"][0]
    assert provider["options"]["foldersFromFilesStructure"] is True


def test_alert_rules_resolve() -> None:
    folders = {b.folder for b in BOARDS}
    rules = [r for g in ALERTING["groups"] for r in g["rules"]]
    assert {g["folder"] for g in ALERTING["groups"]} <= folders
    assert len({r["uid"] for r in rules}) == len(rules) == 2
    for rule in rules:
        refs = {d["refId"]: d for d in rule["data"]}
        assert rule["condition"] in refs
        for data in rule["data"]:
            assert data["datasourceUid"] in (DATASOURCE["uid"], "__expr__")
            if data["datasourceUid"] == "__expr__":
                assert data["model"]["expression"] in refs
    receivers = [r["uid"] for cp in ALERTING["contactPoints"] for r in cp["receivers"]]
    assert ALERTING["policies"][0]["receiver"] in {cp["name"] for cp in ALERTING["contactPoints"]}
    assert receivers == ["yiju-operators"]
