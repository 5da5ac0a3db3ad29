"""Request and response bodies of /v1, with the examples OpenAPI shows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from api.security import Role, Scope
from core.contract.topics import ID_PATTERN, Kind

# Control characters (NUL above all, which PostgreSQL refuses in text) never reach the database.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN), Field(examples=["xueyuan"])]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_PRINTABLE)]
Note = Annotated[str, StringConstraints(max_length=200, pattern=_PRINTABLE)]
# Strict: a string or a bool is not a number (an int is still a float). Bounds sit inside the
# type so that `X | None` applies them to numbers only (pydantic would try them on None too).
Lat = Annotated[float, Strict(), Field(ge=-90, le=90)]
Lon = Annotated[float, Strict(), Field(ge=-180, le=180)]
PowerKw = Annotated[float, Strict(), Field(gt=0, le=100_000)]
Floors = Annotated[int, Strict(), Field(ge=1, le=200)]
Households = Annotated[int, Strict(), Field(ge=0, le=100_000)]
Days = Annotated[int, Strict(), Field(ge=1, le=3650)]
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")
PathId = Annotated[str, Path(pattern=ID_PATTERN, examples=["lift-01"])]
QueryId = Annotated[str | None, Query(pattern=ID_PATTERN)]
QueryText = Annotated[str | None, Query(min_length=1, max_length=200, pattern=_PRINTABLE)]


def _sane_instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time out of range") from None
    if not 1970 <= utc.year <= 2200:
        raise ValueError("time must be between 1970 and 2200")
    return utc


def _text_only(value: object) -> object:
    # pydantic would read a bare number as seconds since 1970; the API takes RFC 3339 text only.
    if isinstance(value, str) and not _DATE.match(value):
        raise ValueError("expected an RFC 3339 date-time such as 2026-11-01T08:00:00+08:00")
    if isinstance(value, int | float):
        raise ValueError("expected an RFC 3339 date-time, not a number")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_text_only), AfterValidator(_sane_instant)]
"""A time with its offset, stored in UTC."""

Severity = Literal["critical", "major", "minor", "warning"]
AlarmStatus = Literal["active-unacknowledged", "active-acknowledged", "cleared"]


class Body(BaseModel):
    """Request bodies: unknown fields and NaN are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Patch(Body):
    """A partial update: only the fields sent change; null only where a value may be absent."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        refused = sorted(
            n for n in self.model_fields_set if getattr(self, n) is None and n not in self.nullable
        )
        if refused:
            raise ValueError(f"may not be null: {', '.join(refused)}")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields sent, with their new values."""
        return self.model_dump(exclude_unset=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` as `cursor` for the next (null: no more)."""

    items: list[T]
    next_cursor: str | None = Field(None, examples=["WyJsaWZ0LTAxIl0"])


# --- access ------------------------------------------------------------------------------------


class CompanyIn(Body):
    id: Id
    name: Text = Field(examples=["宜昌安居物业"])


class Company(CompanyIn):
    created_at: datetime


class KeyIn(Body):
    role: Role
    company_id: Id | None = Field(None, description="required for operator and integrator keys")
    owner_id: Id | None = Field(None, description="required for owner keys: whose spaces it manages")
    scopes: list[Scope] | None = Field(None, description="default: all the role allows")
    expires_in_days: Days | None = None
    label: Note = Field("", examples=["ops dashboard"])


class Key(BaseModel):
    id: str = Field(examples=["3fa85f64a1b2"])
    role: Role
    company_id: str | None
    owner_id: str | None = None
    scopes: list[Scope]
    label: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(Key):
    key: str = Field(description="shown once; send as `Authorization: Bearer <key>`")


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str = Field(examples=["key:3fa85f64a1b2"])
    company_id: str | None
    client_addr: str | None = Field(examples=["203.0.113.7"])
    action: str = Field(examples=["device.create"])
    target: str = Field(examples=["device:lift-01"])
    detail: dict[str, Any]


# --- registry ----------------------------------------------------------------------------------


class CommunityIn(Body):
    id: Id
    name: Text = Field(examples=["学院街小区"])
    district: Text = Field(examples=["西陵区"])
    lat: Lat = Field(examples=[30.70])
    lon: Lon = Field(examples=[111.29])
    site_power_limit_kw: PowerKw | None = Field(None, examples=[250.0])
    company_id: Id | None = Field(None, description="admin only; an operator's own company by default")


class CommunityPatch(Patch):
    nullable = frozenset({"site_power_limit_kw", "company_id"})
    name: Text | SkipJsonSchema[None] = None
    district: Text | SkipJsonSchema[None] = None
    lat: Lat | SkipJsonSchema[None] = None
    lon: Lon | SkipJsonSchema[None] = None
    site_power_limit_kw: PowerKw | None = None
    company_id: Id | None = Field(None, description="admin only: hand the community to a company")


class Community(BaseModel):
    id: str
    name: str
    district: str
    lat: float
    lon: float
    site_power_limit_kw: float | None
    company_id: str | None
    created_at: datetime
    decommissioned_at: datetime | None


class BuildingIn(Body):
    id: Id = Field(examples=["xueyuan-b3"])
    community_id: Id
    name: Text = Field(examples=["3栋"])
    floors: Floors = Field(examples=[7])
    households: Households = Field(0, examples=[42])


class BuildingPatch(Patch):
    name: Text | SkipJsonSchema[None] = None
    floors: Floors | SkipJsonSchema[None] = None
    households: Households | SkipJsonSchema[None] = None


class Building(BaseModel):
    id: str
    community_id: str
    name: str
    floors: int
    households: int
    decommissioned_at: datetime | None


class DeviceIn(Body):
    id: Id = Field(examples=["lift-01"])
    community_id: Id
    kind: Kind
    building_id: Id | None = Field(None, examples=["xueyuan-b3"])
    location: Note = Field("", examples=["3栋 东侧"])


class DevicePatch(Patch):
    nullable = frozenset({"building_id"})
    building_id: Id | None = None
    location: Note | SkipJsonSchema[None] = None


class Device(BaseModel):
    id: str
    community_id: str
    kind: Kind
    building_id: str | None
    location: str
    created_at: datetime
    decommissioned_at: datetime | None
    credentials_changed_at: datetime | None
    credentials_revoked_at: datetime | None


class Credentials(BaseModel):
    """A device's MQTT login: the password is shown once and not stored by Yiju."""

    username: str = Field(examples=["lift-01"])
    password: str = Field(examples=["q8Jx0d3b9w2mYbq1lKfGm3V7p5QeR1sT"])
    topic_filter: str = Field(examples=["community/xueyuan/elevator/lift-01/+"])


class DeviceCreated(Device):
    credentials: Credentials


# --- telemetry -------------------------------------------------------------------------------------


class Status(BaseModel):
    ts: datetime
    state: Literal["online", "offline"]
    firmware: str


class Latest(BaseModel):
    """The newest telemetry row of a device and its newest status."""

    device_id: str
    kind: Kind
    ts: datetime | None = Field(description="null: no telemetry yet")
    values: dict[str, Any] = Field(examples=[{"floor": 3, "direction": "up", "door": "closed"}])
    status: Status | None


class Point(BaseModel):
    t: datetime
    value: float | None


class Series(BaseModel):
    device_id: str
    field: str = Field(examples=["power_kw"])
    agg: str = Field(examples=["avg"])
    bucket_s: int = Field(examples=[60])
    points: list[Point]


# --- alarms --------------------------------------------------------------------------------------


class Alarm(BaseModel):
    id: int
    device_id: str
    community_id: str
    kind: Kind
    type: str = Field(examples=["entrapment"])
    detector: str = Field(examples=["rule:event"])
    severity: Severity
    score: float | None
    first_seen: datetime
    last_seen: datetime
    status: AlarmStatus
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    cleared_by: str | None
    cleared_at: datetime | None
    explanation: str = Field(examples=["entrapment reported by the lift controller at floor 4"])


# --- KPIs ----------------------------------------------------------------------------------------


class DayKpis(BaseModel):
    """One community's operations figures for one local day (YIJU_API_TIMEZONE)."""

    community_id: str
    day: date
    devices: int
    availability: float | None = Field(description="share of device-hours with telemetry")
    charger_utilisation: float | None = Field(description="share of charger samples Charging")
    charger_energy_kwh: float | None
    parking_occupancy_by_hour: list[float | None] = Field(description="24 values, by local hour")
    locker_fill: float | None = Field(description="mean occupied share of compartments")
    parcels_overdue: int = Field(
        description="deposits older than the overdue limit and not picked up, at day end"
    )
    elevator_trips: int
    elevator_faults: int
    alarms_raised: int
    alarms_by_severity: dict[str, int]
    median_time_to_acknowledge_s: float | None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(examples=[{"database": "ok", "broker": "ok"}])
