"""Push the provisioning files to a running Grafana through its HTTP API (grafana-client).

Idempotent and keyed by uid: each object is read first and written only when missing or
different, in the order data source, folders, dashboards, alert rules, contact points. A dry run
only reads and returns what would change. Secrets are never read back by Grafana, so a changed
database password alone is not seen as a change.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError
from psycopg.conninfo import conninfo_to_dict

from grafana import files
from grafana.builder import Json
from grafana.macros import parse_duration

logger = logging.getLogger(__name__)

_ENV = re.compile(r"\$\{(\w+)\}")
_API_DATASOURCE_KEYS = ("uid", "name", "type", "access", "url", "user", "isDefault", "jsonData")


@dataclass(frozen=True)
class Change:
    """One object's fate: create, update or unchanged."""

    kind: str
    uid: str
    title: str
    action: str

    def __str__(self) -> str:
        return f"{self.action:9} {self.kind:13} {self.uid}  {self.title}"


@dataclass(frozen=True)
class Desired:
    """What Grafana should hold, read from the provisioning files."""

    datasource: Json
    folders: dict[str, str]  # uid -> title
    dashboards: list[tuple[str, Json]]  # (folder uid, dashboard)
    rule_groups: list[Json]
    contact_points: list[Json]


def datasource_variables(database_url: str) -> dict[str, str]:
    """The data source file's `${GRAFANA_DB_*}` values from a postgresql:// URL."""
    info = conninfo_to_dict(database_url)
    return {
        "GRAFANA_DB_HOST": f"{info.get('host', 'localhost')}:{info.get('port', 5432)}",
        "GRAFANA_DB_NAME": str(info.get("dbname", "")),
        "GRAFANA_DB_USER": str(info.get("user", "")),
        "GRAFANA_DB_PASSWORD": str(info.get("password", "")),
    }


def _fill(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _ENV.sub(lambda m: variables[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _fill(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, variables) for v in value]
    return value


def desired(database_url: str) -> Desired:
    """Everything sync pushes, from the same files Grafana provisions."""
    source = files.load_yaml(files.DATASOURCES)["datasources"][0]
    datasource = _fill(
        {k: source[k] for k in (*_API_DATASOURCE_KEYS, "secureJsonData")}, datasource_variables(database_url)
    )
    boards = files.dashboards()
    folders = {files.folder_uid(b.folder): b.folder for b in boards}
    alerting = files.load_yaml(files.ALERTING)
    groups = []
    for group in alerting["groups"]:
        folders.setdefault(files.folder_uid(group["folder"]), group["folder"])
        folder_uid = files.folder_uid(group["folder"])
        rules = [
            {**rule, "folderUID": folder_uid, "ruleGroup": group["name"], "orgID": group["orgId"]}
            for rule in group["rules"]
        ]
        seconds = round(parse_duration(group["interval"]).total_seconds())
        groups.append({"title": group["name"], "folderUid": folder_uid, "interval": seconds, "rules": rules})
    contact_points = [
        {"uid": r["uid"], "name": cp["name"], "type": r["type"], "settings": r["settings"],
         "disableResolveMessage": r.get("disableResolveMessage", False)}
        for cp in alerting.get("contactPoints", []) for r in cp["receivers"]
    ]  # fmt: skip
    return Desired(
        datasource, folders, [(files.folder_uid(b.folder), b.body) for b in boards], groups, contact_points
    )


def differs(ours: Any, theirs: Any) -> bool:
    """Whether Grafana's copy lacks or changed anything of ours (what Grafana adds is ignored)."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return True
        return any(differs(v, theirs.get(k)) for k, v in ours.items())
    if isinstance(ours, list):
        # element by element: Grafana adds defaults inside list items too (e.g. a rule query's model)
        return not isinstance(theirs, list) or len(ours) != len(theirs) or any(map(differs, ours, theirs))
    return bool(ours != theirs)


def _read(call: Callable[[], Any]) -> Any | None:
    """The object, or None when Grafana answers 404."""
    try:
        return call()
    except GrafanaClientError as error:
        if error.status_code == 404:
            return None
        raise


class Sync:
    """One pass over the desired objects against one Grafana."""

    def __init__(self, api: GrafanaApi, *, dry_run: bool) -> None:
        self.api = api
        self.dry_run = dry_run
        self.changes: list[Change] = []

    def _apply(self, change: Change, write: Callable[[], object]) -> None:
        self.changes.append(change)
        if change.action != "unchanged" and not self.dry_run:
            write()
            logger.info("%s", change)

    def datasource(self, body: Json) -> None:
        uid = body["uid"]
        found = _read(lambda: self.api.datasource.get_datasource_by_uid(uid))
        comparable = {k: v for k, v in body.items() if k != "secureJsonData"}
        action = "create" if found is None else "update" if differs(comparable, found) else "unchanged"
        write = (
            (lambda: self.api.datasource.create_datasource(body))
            if found is None
            else (lambda: self.api.datasource.update_datasource_by_uid(uid, body))
        )
        self._apply(Change("datasource", uid, body["name"], action), write)

    def folder(self, uid: str, title: str) -> None:
        found = _read(lambda: self.api.folder.get_folder(uid))
        action = "create" if found is None else "update" if found.get("title") != title else "unchanged"
        write = (
            (lambda: self.api.folder.create_folder(title, uid=uid))
            if found is None
            else (lambda: self.api.folder.update_folder(uid, title=title, overwrite=True))
        )
        self._apply(Change("folder", uid, title, action), write)

    def dashboard(self, folder_uid: str, body: Json) -> None:
        uid = body["uid"]
        ours = {k: v for k, v in body.items() if k not in ("id", "version")}
        found = _read(lambda: self.api.dashboard.get_dashboard(uid))
        if found is None:
            action = "create"
        else:
            moved = found.get("meta", {}).get("folderUid") != folder_uid
            action = "update" if moved or differs(ours, found.get("dashboard")) else "unchanged"
        payload = {
            "dashboard": ours,
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "yiju grafana sync",
        }
        self._apply(
            Change("dashboard", uid, body["title"], action),
            lambda: self.api.dashboard.update_dashboard(payload),
        )

    def rule_group(self, group: Json) -> None:
        provisioning = self.api.alertingprovisioning
        for rule in group["rules"]:
            uid = rule["uid"]
            found = _read(partial(provisioning.get_alertrule, uid))
            action = "create" if found is None else "update" if differs(rule, found) else "unchanged"
            write = (
                partial(provisioning.create_alertrule, rule)
                if found is None
                else partial(provisioning.update_alertrule, uid, rule)
            )
            self._apply(Change("alert-rule", uid, rule["title"], action), write)
        # The evaluation interval belongs to the group, not to its rules.
        fuid, name = group["folderUid"], group["title"]
        found = _read(lambda: provisioning.get_rule_group(fuid, name))  # None only in a dry run
        action = (
            "create" if found is None else "unchanged" if found["interval"] == group["interval"] else "update"
        )
        body = {
            "title": name,
            "folderUid": fuid,
            "interval": group["interval"],
            "rules": (found or group)["rules"],
        }
        self._apply(
            Change("rule-group", f"{fuid}/{name}", f"every {group['interval']}s", action),
            lambda: provisioning.update_rule_group(fuid, name, body),
        )

    def contact_point(self, body: Json) -> None:
        provisioning = self.api.alertingprovisioning
        found = next(
            (c for c in provisioning.get_contactpoints(body["name"]) if c.get("uid") == body["uid"]), None
        )
        action = "create" if found is None else "update" if differs(body, found) else "unchanged"
        write = (
            (lambda: provisioning.create_contactpoint(body))
            if found is None
            else (lambda: provisioning.update_contactpoint(body["uid"], body))
        )
        self._apply(Change("contact-point", body["uid"], body["name"], action), write)


def sync(api: GrafanaApi, want: Desired, *, dry_run: bool = False) -> list[Change]:
    """Bring Grafana in line with `want`; returns every object's change (or planned change)."""
    run = Sync(api, dry_run=dry_run)
    run.datasource(want.datasource)
    for uid, title in want.folders.items():
        run.folder(uid, title)
    for folder_uid, body in want.dashboards:
        run.dashboard(folder_uid, body)
    for group in want.rule_groups:
        run.rule_group(group)
    for contact_point in want.contact_points:
        run.contact_point(contact_point)
    return run.changes
