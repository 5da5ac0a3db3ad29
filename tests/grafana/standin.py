"""GrafanaStandIn: a local HTTP server standing in for Grafana's API, recording every request.

No Grafana can run here. The stand-in keeps the objects `yiju grafana sync` touches in memory and
answers like Grafana does: 404 for a missing uid, ids and versions added to what it stores,
secrets never returned. It knows only these endpoints; anything else is a 404 and recorded.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlsplit

Json = dict[str, Any]
Reply = tuple[int, Any]


class GrafanaStandIn:
    """In-memory data sources, folders, dashboards, alert rules, rule groups and contact points."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[tuple[str, str]] = []
        self.datasources: dict[str, Json] = {}
        self.folders: dict[str, Json] = {}
        self.dashboards: dict[str, Json] = {}
        self.rules: dict[str, Json] = {}
        self.group_intervals: dict[tuple[str, str], int] = {}
        self.contact_points: dict[str, Json] = {}
        self._ids = count(1)
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("GET", re.compile(r"/api/datasources/uid/([^/]+)"), self._get_datasource),
            ("POST", re.compile(r"/api/datasources"), self._create_datasource),
            ("PUT", re.compile(r"/api/datasources/uid/([^/]+)"), self._update_datasource),
            ("GET", re.compile(r"/api/folders/([^/]+)"), lambda uid: self._found(self.folders, uid)),
            ("POST", re.compile(r"/api/folders"), self._create_folder),
            ("PUT", re.compile(r"/api/folders/([^/]+)"), self._update_folder),
            ("GET", re.compile(r"/api/dashboards/uid/([^/]+)"), self._get_dashboard),
            ("POST", re.compile(r"/api/dashboards/db"), self._save_dashboard),
            (
                "GET",
                re.compile(r"/api/v1/provisioning/alert-rules/([^/]+)"),
                lambda u: self._found(self.rules, u),
            ),
            ("POST", re.compile(r"/api/v1/provisioning/alert-rules"), self._save_rule),
            ("PUT", re.compile(r"/api/v1/provisioning/alert-rules/([^/]+)"), self._save_rule),
            ("GET", re.compile(r"/api/v1/provisioning/folder/([^/]+)/rule-groups/([^/]+)"), self._get_group),
            ("PUT", re.compile(r"/api/v1/provisioning/folder/([^/]+)/rule-groups/([^/]+)"), self._put_group),
            ("GET", re.compile(r"/api/v1/provisioning/contact-points"), self._list_contact_points),
            ("POST", re.compile(r"/api/v1/provisioning/contact-points"), self._save_contact_point),
            ("PUT", re.compile(r"/api/v1/provisioning/contact-points/([^/]+)"), self._save_contact_point),
        ]
        self._body: Json = {}
        self._query: dict[str, list[str]] = {}

    def writes(self) -> list[tuple[str, str]]:
        """The requests that change something."""
        return [r for r in self.requests if r[0] != "GET"]

    @staticmethod
    def _found(store: dict[str, Json], uid: str) -> Reply:
        return (200, store[uid]) if uid in store else (404, {"message": "not found"})

    def _get_datasource(self, uid: str) -> Reply:
        if uid not in self.datasources:
            return 404, {"message": "Data source not found"}
        shown = {k: v for k, v in self.datasources[uid].items() if k != "secureJsonData"}
        return 200, {**shown, "secureJsonFields": {k: True for k in self.datasources[uid]["secureJsonData"]}}

    def _create_datasource(self) -> Reply:
        self.datasources[self._body["uid"]] = {**self._body, "id": next(self._ids), "readOnly": False}
        return 200, {"message": "Datasource added", "id": self.datasources[self._body["uid"]]["id"]}

    def _update_datasource(self, uid: str) -> Reply:
        self.datasources[uid] = {**self.datasources[uid], **self._body}
        return 200, {"message": "Datasource updated"}

    def _create_folder(self) -> Reply:
        self.folders[self._body["uid"]] = {**self._body, "id": next(self._ids), "version": 1}
        return 200, self.folders[self._body["uid"]]

    def _update_folder(self, uid: str) -> Reply:
        self.folders[uid] = {**self.folders[uid], "title": self._body["title"]}
        return 200, self.folders[uid]

    def _get_dashboard(self, uid: str) -> Reply:
        if uid not in self.dashboards:
            return 404, {"message": "Dashboard not found"}
        return 200, self.dashboards[uid]

    def _save_dashboard(self) -> Reply:
        body, uid = self._body["dashboard"], self._body["dashboard"]["uid"]
        version = self.dashboards[uid]["dashboard"]["version"] + 1 if uid in self.dashboards else 1
        saved = {**body, "id": next(self._ids), "version": version}
        self.dashboards[uid] = {"dashboard": saved, "meta": {"folderUid": self._body.get("folderUid", "")}}
        return 200, {"uid": uid, "version": version, "status": "success"}

    def _save_rule(self, uid: str | None = None) -> Reply:
        rule = {**self._body, "id": next(self._ids), "provenance": "api"}
        self.rules[uid or rule["uid"]] = rule
        return (200 if uid else 201), rule

    def _get_group(self, folder: str, group: str) -> Reply:
        rules = [r for r in self.rules.values() if (r["folderUID"], r["ruleGroup"]) == (folder, group)]
        if not rules:
            return 404, {"message": "rule group not found"}
        interval = self.group_intervals.get((folder, group), 60)  # Grafana's default for a new group
        return 200, {"title": group, "folderUid": folder, "interval": interval, "rules": rules}

    def _put_group(self, folder: str, group: str) -> Reply:
        self.group_intervals[(folder, group)] = self._body["interval"]
        for rule in self._body["rules"]:
            self.rules[rule["uid"]] = rule
        return 200, self._body

    def _list_contact_points(self) -> Reply:
        name = self._query.get("name", [None])[0]
        return 200, [c for c in self.contact_points.values() if name in (None, c["name"])]

    def _save_contact_point(self, uid: str | None = None) -> Reply:
        self.contact_points[uid or self._body["uid"]] = self._body
        return 202, self._body

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        url = urlsplit(target)
        self.requests.append((method, url.path))
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Unauthorized"}
        self._body, self._query = (json.loads(body) if body else {}), parse_qs(url.query)
        for verb, pattern, route in self._routes:
            match = pattern.fullmatch(url.path)
            if verb == method and match:
                return route(*match.groups())
        return 404, {"message": f"the stand-in does not know {method} {url.path}"}


def _handler(standin: GrafanaStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, reply = standin.handle(self.command, self.path, self.headers, self.rfile.read(length))
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the stand-in records requests itself."""

    return Handler


@contextmanager
def running(token: str) -> Iterator[tuple[GrafanaStandIn, str]]:
    """A stand-in on a free local port, and its URL."""
    standin = GrafanaStandIn(token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(standin))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
