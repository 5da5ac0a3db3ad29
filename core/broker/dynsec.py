"""Accounts and ACLs in Mosquitto's dynamic-security plugin, changed at run time over MQTT.

Mosquitto 2.0's plugin does not substitute %u in ACL topics, so every device gets its own role
allowing publishes under its own topics only; anonymous clients are refused by the broker config.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import AnyUrl

from core.broker.client import host_port, make_client
from core.contract.topics import ROOT, alarm_topic_filter, is_valid_id

logger = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
INGEST_ROLE = "yiju-ingest"
NOTIFY_ROLE = "yiju-notify"
# Devices per dynamic-security message: large enough to amortise the plugin's file rewrite,
# small enough to stay below the broker's max_packet_size (64 KiB; ~0.5 KiB per device).
BATCH = 50


class BrokerAdminError(RuntimeError):
    """The broker refused a dynamic-security command."""


def new_password() -> str:
    """A random device or service password."""
    return secrets.token_urlsafe(24)


def device_role(device_id: str) -> str:
    return f"device-{device_id}"


def alarm_reader_role(community_id: str) -> str:
    """The role that may subscribe to one community's alarm announcements."""
    return f"alarms-{community_id}"


class DynSec:
    """A connected admin session; use `connect()`."""

    def __init__(self, client: mqtt.Client, timeout_s: float, broker: tuple[str, int]) -> None:
        self._client = client
        self._broker = broker
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._responses: dict[str, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        client.on_message = self._on_message

    @property
    def connected(self) -> bool:
        """Whether the admin session is connected to the broker now."""
        return bool(self._client.is_connected())

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            logger.warning("unreadable dynamic-security response %.200r", msg.payload)
            return
        with self._arrived:
            for response in body.get("responses", []):
                self._responses[str(response.get("correlationData"))] = response
            self._arrived.notify_all()

    def run(self, commands: list[dict[str, Any]], *, tolerate: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Send commands in one message and wait for every answer; errors not tolerated raise."""
        with self._lock:
            keyed = [{**c, "correlationData": secrets.token_hex(8)} for c in commands]
            self._client.publish(CONTROL_TOPIC, json.dumps({"commands": keyed}), qos=1)
            wanted = [c["correlationData"] for c in keyed]
            with self._arrived:
                if not self._arrived.wait_for(
                    lambda: all(w in self._responses for w in wanted), self._timeout_s
                ):
                    raise BrokerAdminError("no answer from the broker's dynamic-security plugin")
                answers = [self._responses.pop(w) for w in wanted]
        for command, answer in zip(commands, answers, strict=True):
            error = answer.get("error")
            if error and not any(t in error for t in tolerate):
                raise BrokerAdminError(f"{command['command']}: {error}")
        return answers

    def ensure_device(self, device_id: str, topic_filter: str, password: str) -> None:
        """Create (or reset) a device account that may publish only under `topic_filter`."""
        self.ensure_devices([(device_id, topic_filter, password)])

    def ensure_devices(self, accounts: Sequence[tuple[str, str, str]], *, batch: int = BATCH) -> None:
        """`ensure_device` for many (device id, topic filter, password), a batch per message.

        The plugin rewrites its whole JSON file after every message, so one message per batch
        rather than per device is what makes seeding 10,000 devices take seconds, not minutes.
        """
        for start in range(0, len(accounts), batch):
            commands: list[dict[str, Any]] = []
            for device_id, topic_filter, password in accounts[start : start + batch]:
                role = device_role(device_id)
                acl = {"acltype": "publishClientSend", "topic": topic_filter, "allow": True}
                commands += [
                    {"command": "deleteClient", "username": device_id},
                    {"command": "deleteRole", "rolename": role},
                    {"command": "createRole", "rolename": role, "acls": [acl]},
                    {
                        "command": "createClient",
                        "username": device_id,
                        "password": password,
                        "roles": [{"rolename": role}],
                    },
                ]
            self.run(commands, tolerate=("not found",))

    def set_passwords(self, passwords: Sequence[tuple[str, str]], *, batch: int = BATCH) -> None:
        """New passwords for existing accounts (username, password); roles and ACLs stay as they are,
        which is far cheaper for the plugin than re-creating them."""
        for start in range(0, len(passwords), batch):
            commands = [
                {"command": "setClientPassword", "username": u, "password": p}
                for u, p in passwords[start : start + batch]
            ]
            self.run(commands)

    def existing_clients(self, usernames: Sequence[str], *, batch: int = BATCH) -> set[str]:
        """Which of these accounts the broker has."""
        found: set[str] = set()
        for start in range(0, len(usernames), batch):
            chunk = usernames[start : start + batch]
            commands = [{"command": "getClient", "username": u} for u in chunk]
            answers = self.run(commands, tolerate=("not found",))
            found.update(u for u, a in zip(chunk, answers, strict=True) if "error" not in a)
        return found

    def remove_devices(self, device_ids: Sequence[str], *, batch: int = BATCH) -> None:
        """`remove_device` for many, a batch per message."""
        for start in range(0, len(device_ids), batch):
            commands = [
                command
                for device_id in device_ids[start : start + batch]
                for command in (
                    {"command": "deleteClient", "username": device_id},
                    {"command": "deleteRole", "rolename": device_role(device_id)},
                )
            ]
            self.run(commands, tolerate=("not found",))

    def remove_device(self, device_id: str) -> None:
        """Delete a device's account and role; its open connection is closed by the broker."""
        self.remove_devices([device_id])

    def ensure_service_account(
        self, username: str, password: str, role: str, acls: list[dict[str, Any]]
    ) -> None:
        """Create a service account (ingest, simulators) or update it in place.

        The role is changed in place, never deleted: deleting a role disconnects every client
        holding it, which would interrupt a running ingest. ACLs no longer wanted stay; remove
        them by hand.
        """
        self.run(
            [
                {"command": "createRole", "rolename": role},
                *({"command": "addRoleACL", "rolename": role, **acl} for acl in acls),
            ],
            tolerate=("already exists",),
        )
        (found,) = self.run([{"command": "getClient", "username": username}], tolerate=("not found",))
        if "error" in found:
            create = {"command": "createClient", "username": username, "password": password}
            self.run([{**create, "roles": [{"rolename": role}]}])
            return
        # Setting a password, even the same one, disconnects the account's clients: only on change.
        commands = []
        if not self._password_works(username, password):
            commands.append({"command": "setClientPassword", "username": username, "password": password})
        if role not in {r.get("rolename") for r in found.get("data", {}).get("client", {}).get("roles", [])}:
            commands.append({"command": "addClientRole", "username": username, "rolename": role})
        if commands:
            self.run(commands)

    def _password_works(self, username: str, password: str) -> bool:
        """Whether the broker accepts this login (a throwaway connection that subscribes to nothing)."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
        client.username_pw_set(username, password)
        answer: list[bool] = []
        client.on_connect = lambda _c, _u, _f, reason, _p: answer.append(not reason.is_failure)
        try:
            client.connect(*self._broker, keepalive=10)
        except OSError:
            return False
        deadline = time.monotonic() + self._timeout_s
        while not answer and time.monotonic() < deadline:
            client.loop(timeout=0.05)
        client.disconnect()
        return bool(answer and answer[0])

    def ensure_ingest_account(self, username: str, password: str) -> None:
        """The ingest account: may subscribe to every device topic, in any share group; publish nothing."""
        acls = [
            {"acltype": "subscribePattern", "topic": f"{ROOT}/#", "allow": True},
            {
                "acltype": "subscribePattern",
                "topic": f"$share/+/{ROOT}/#",
                "allow": True,
            },
        ]
        self.ensure_service_account(username, password, INGEST_ROLE, acls)

    def ensure_notify_account(self, username: str, password: str) -> None:
        """The notifier's account: may publish alarm announcements of any community; subscribe to nothing."""
        acls = [{"acltype": "publishClientSend", "topic": alarm_topic_filter("+"), "allow": True}]
        self.ensure_service_account(username, password, NOTIFY_ROLE, acls)

    def ensure_alarm_reader(self, username: str, password: str, community_ids: Sequence[str]) -> None:
        """An operator tool's account: may subscribe to these communities' alarm announcements only
        (and publish nothing). An existing reader gets the new password and the added communities; an
        account of another kind (a device, a service) is refused, never changed."""
        if not community_ids or not all(map(is_valid_id, community_ids)):  # an id is part of an ACL
            raise BrokerAdminError(f"community ids must match the contract's pattern: {community_ids}")
        roles = [alarm_reader_role(c) for c in community_ids]
        self.run(
            [
                {
                    "command": "createRole",
                    "rolename": role,
                    "acls": [{"acltype": "subscribePattern", "topic": alarm_topic_filter(c), "allow": True}],
                }
                for c, role in zip(community_ids, roles, strict=True)
            ],
            tolerate=("already exists",),
        )
        (found,) = self.run([{"command": "getClient", "username": username}], tolerate=("not found",))
        if "error" in found:
            create = {"command": "createClient", "username": username, "password": password}
            self.run([{**create, "roles": [{"rolename": r} for r in roles]}])
            return
        held = {r.get("rolename", "") for r in found.get("data", {}).get("client", {}).get("roles", [])}
        if not held or not all(r.startswith("alarms-") for r in held):
            raise BrokerAdminError(f"{username!r} is an account of another kind, not an alarm reader")
        self.run(
            [
                {"command": "setClientPassword", "username": username, "password": password},
                *(
                    {"command": "addClientRole", "username": username, "rolename": r}
                    for r in roles
                    if r not in held
                ),
            ]
        )

    def remove_account(self, username: str) -> None:
        """Delete an account (its roles stay: others may hold them); its connection is closed."""
        self.run([{"command": "deleteClient", "username": username}], tolerate=("not found",))


@contextmanager
def connect(admin_url: AnyUrl, timeout_s: float = 10.0) -> Iterator[DynSec]:
    """An admin session on the broker's dynamic-security API (resubscribes after a reconnect)."""
    client = make_client(admin_url)
    ready = threading.Event()
    refused: list[object] = []

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            refused.append(reason)
            ready.set()
            return
        c.subscribe(RESPONSE_TOPIC, qos=1)

    client.on_connect = on_connect
    client.on_subscribe = lambda *_args: ready.set()
    host, port = host_port(admin_url)
    # Long keep-alive: with thousands of accounts one batch can keep the broker busy for a minute,
    # and a session dropped meanwhile would lose its answers.
    client.connect(host, port, keepalive=600)
    client.loop_start()
    try:
        session = DynSec(client, timeout_s, (host, port))
        if not ready.wait(timeout_s) or refused:
            raise BrokerAdminError(
                f"no dynamic-security session at {host}:{port}: {refused[0] if refused else 'timed out'}"
            )
        yield session
    finally:
        client.disconnect()
        client.loop_stop()
