"""API keys and what each role may do.

A key is `yiju_<id>_<secret>` with a 256-bit random secret. Only SHA-256 of the whole key is
stored: a slow password KDF (argon2, bcrypt) protects low-entropy secrets people choose, but
nobody can brute-force 2^256, and a fast hash keeps authentication to one indexed lookup per
request. The id part is public: it names the key in listings and the audit log.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

KEY_PATTERN = re.compile(r"^yiju_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")


class Role(StrEnum):
    """Who a key belongs to."""

    ADMIN = "admin"
    OPERATOR = "operator"
    PARKING_APP = "parking_app"
    INTEGRATOR = "integrator"
    OWNER = "owner"  # a resident who shares a space; the key is tied to an owner id


class Scope(StrEnum):
    """What a key may do; a route names the one it needs."""

    ADMIN = "admin"  # companies, keys, ownership of communities, audit log
    REGISTRY_READ = "registry:read"
    REGISTRY_WRITE = "registry:write"  # communities and buildings
    DEVICES_WRITE = "devices:write"  # devices and their broker accounts
    TELEMETRY_READ = "telemetry:read"
    ALARMS_READ = "alarms:read"
    ALARMS_WRITE = "alarms:write"
    KPIS_READ = "kpis:read"
    PARKING = "parking"  # search and book spaces, the booking lifecycle (parking apps)
    PARKING_MANAGE = "parking:manage"  # a company's bookings, supply and map (operators)
    PARKING_OWNER = "parking:owner"  # publish and withdraw the availability of one's own spaces


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.OPERATOR: frozenset(Scope) - {Scope.ADMIN, Scope.PARKING, Scope.PARKING_OWNER},
    Role.INTEGRATOR: frozenset({Scope.REGISTRY_READ, Scope.DEVICES_WRITE, Scope.TELEMETRY_READ}),
    Role.PARKING_APP: frozenset({Scope.PARKING}),
    Role.OWNER: frozenset({Scope.PARKING_OWNER}),
}
"""The most a key of each role may hold; a key may be given fewer."""

COMPANY_ROLES = frozenset({Role.OPERATOR, Role.INTEGRATOR})
"""Roles that act for exactly one company."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    key_id: str
    role: Role
    company_id: str | None
    scopes: frozenset[Scope]
    client_addr: str | None = None
    owner_id: str | None = None  # an owner key's owner
    expires_at: datetime | None = None

    @property
    def tenant(self) -> str | None:
        """The company whose communities this caller sees; None: all (platform admin).

        A non-admin without a company gets "", which matches no community.
        """
        return None if self.role is Role.ADMIN else (self.company_id or "")

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"key:{self.key_id}"


def new_key() -> tuple[str, str]:
    """A fresh (key id, whole key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"yiju_{key_id}_{secrets.token_urlsafe(32)}"


def key_hash(key: str) -> bytes:
    """What is stored of a key."""
    return hashlib.sha256(key.encode()).digest()
