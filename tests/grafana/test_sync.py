"""`yiju grafana sync` against GrafanaStandIn: the right calls in order, nothing on a second run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from grafana_client import GrafanaApi
from typer.testing import CliRunner

from grafana.cli import app
from grafana.sync import Desired, desired, differs, sync
from tests.grafana.standin import GrafanaStandIn, running

TOKEN = "glsa_stand-in-token"
DB_URL = "postgresql://grafana_ro:s3cret@timescaledb:5432/yiju"


@dataclass(frozen=True)
class StandIn:
    """The stand-in server, its URL and a client logged in to it."""

    server: GrafanaStandIn
    url: str
    api: GrafanaApi


@pytest.fixture
def grafana() -> Iterator[StandIn]:
    with running(TOKEN) as (standin, url):
        yield StandIn(standin, url, GrafanaApi.from_url(url, credential=TOKEN))


@pytest.fixture(scope="module")
def want() -> Desired:
    return desired(DB_URL)


def _first_run_writes(want: Desired) -> list[tuple[str, str]]:
    expected = [("POST", "/api/datasources")]
    expected += [("POST", "/api/folders")] * len(want.folders)
    expected += [("POST", "/api/dashboards/db")] * len(want.dashboards)
    for group in want.rule_groups:
        expected += [("POST", "/api/v1/provisioning/alert-rules")] * len(group["rules"])
        if group["interval"] != 60:  # a new group starts at Grafana's default of 60 s
            expected.append(
                ("PUT", f"/api/v1/provisioning/folder/yiju-operations/rule-groups/{group['title']}")
            )
    return [*expected, ("POST", "/api/v1/provisioning/contact-points")]


def test_datasource_is_filled_from_the_database_url(want: Desired) -> None:
    ds = want.datasource
    assert (ds["uid"], ds["url"], ds["user"]) == ("yiju-timescaledb", "timescaledb:5432", "grafana_ro")
    assert ds["jsonData"]["database"] == "yiju" and ds["jsonData"]["timescaledb"] is True
    assert ds["secureJsonData"] == {"password": "s3cret"}
    assert set(want.folders) == {"yiju-overview", "yiju-facilities", "yiju-operations"}


def test_first_run_creates_everything_in_order(grafana: StandIn, want: Desired) -> None:
    standin, api = grafana.server, grafana.api
    changes = sync(api, want)
    assert standin.writes() == _first_run_writes(want)
    # each object is read before it is written, and data source -> folders -> dashboards -> alerting
    rank = {
        "datasource": 0,
        "folder": 1,
        "dashboard": 2,
        "alert-rule": 3,
        "rule-group": 3,
        "contact-point": 4,
    }
    kinds = [rank[c.kind] for c in changes]
    assert kinds == sorted(kinds)
    assert standin.requests[0] == ("GET", "/api/datasources/uid/yiju-timescaledb")
    assert set(standin.dashboards) == {body["uid"] for _, body in want.dashboards}
    assert {d["meta"]["folderUid"] for d in standin.dashboards.values()} <= set(want.folders)
    assert standin.group_intervals == {("yiju-operations", "life-safety"): 10}
    assert standin.datasources["yiju-timescaledb"]["secureJsonData"] == {"password": "s3cret"}


def test_second_run_changes_nothing(grafana: StandIn, want: Desired) -> None:
    standin, api = grafana.server, grafana.api
    sync(api, want)
    before = len(standin.requests)
    changes = sync(api, want)
    assert standin.writes() == _first_run_writes(want)  # no write since the first run
    assert len(standin.requests) > before and all(c.action == "unchanged" for c in changes)


def test_a_changed_dashboard_is_the_only_update(grafana: StandIn, want: Desired) -> None:
    standin, api = grafana.server, grafana.api
    sync(api, want)
    standin.dashboards["yiju-ev"]["dashboard"]["title"] = "edited in the UI"
    standin.folders["yiju-overview"]["title"] = "renamed"
    changes = sync(api, want)
    assert [(c.kind, c.uid) for c in changes if c.action == "update"] == [
        ("folder", "yiju-overview"),
        ("dashboard", "yiju-ev"),
    ]
    assert standin.dashboards["yiju-ev"]["dashboard"]["title"] == "EV charging"
    assert standin.dashboards["yiju-ev"]["dashboard"]["version"] == 2


def test_dry_run_only_reads_and_prints_the_plan(grafana: StandIn, want: Desired) -> None:
    standin = grafana.server
    result = CliRunner().invoke(app, ["sync", "--url", grafana.url, "--token", TOKEN, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert standin.requests and standin.writes() == []
    assert "create    dashboard     yiju-city" in result.output
    rules = sum(len(g["rules"]) for g in want.rule_groups)
    everything = 1 + len(want.folders) + len(want.dashboards) + rules + len(want.rule_groups) + 1
    assert f"{everything} to change (dry run)" in result.output


def test_a_wrong_token_fails_clearly(grafana: StandIn) -> None:
    standin = grafana.server
    result = CliRunner().invoke(app, ["sync", "--url", grafana.url, "--token", "wrong"])
    assert result.exit_code == 1 and "401" in result.output
    assert standin.writes() == []


def test_what_grafana_adds_is_not_a_change() -> None:
    ours = {"data": [{"refId": "A", "model": {"rawSql": "SELECT 1"}}], "for": "0s"}
    theirs = {
        "id": 7,
        "data": [{"refId": "A", "model": {"rawSql": "SELECT 1", "intervalMs": 1000}}],
        "for": "0s",
    }
    assert not differs(ours, theirs)
    assert differs(ours, {**theirs, "for": "1m"})
    assert differs(
        ours, {**theirs, "data": [{"refId": "A", "model": {"rawSql": "SELECT 1"}}, {"refId": "B"}]}
    )
    assert differs(ours, {"data": [{"refId": "A", "model": {"rawSql": "SELECT 2"}}], "for": "0s"})
