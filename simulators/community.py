"""A community definition (buildings, parking, chargers, lockers, elevators), loaded from YAML.

Ids in a definition are local (`ps-001`, `b1`); the registry ids are `{prefix}-{local}`, so a
definition can be seeded twice under another prefix (tests, generated cities) without edits.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.contract.topics import ID_PATTERN, Kind, is_valid_id

COMMUNITIES_DIR = Path(__file__).parent / "communities"
SpaceType = Literal["resident", "public", "institutional", "street"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_LOCAL_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


class CommunityError(ValueError):
    """A community definition that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _local_id(value: str) -> str:
    if not _LOCAL_ID.match(value):
        raise ValueError(f"id {value!r} must match [a-z0-9][a-z0-9-]{{0,31}}")
    return value


class Window(_Strict):
    """Hours of a day a space is free for others; `end` before `start` runs past midnight."""

    days: Literal["daily", "workdays", "weekends"] = "daily"
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not an hour HH:MM between 00:00 and 23:59")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            raise ValueError(f"window {self.start}-{self.end} is empty; use days: daily for all day")
        return self


class Building(_Strict):
    """A walk-up block; `elevators` counts the retrofitted ones (加装电梯)."""

    id: str
    name: str
    floors: int = Field(ge=1, le=200)
    households: int = Field(ge=0)
    elevators: int = Field(default=0, ge=0, le=8)

    _id = field_validator("id")(_local_id)


class SpaceGroup(_Strict):
    """`count` alike spaces numbered from `first`: ids `{id_prefix}-NNN`, labels `{label}NNN`."""

    id_prefix: str = "ps"
    label: str
    first: int = Field(default=1, ge=1, le=9999)
    count: int = Field(ge=1, le=9999)
    space_type: SpaceType
    has_charger: bool = False
    accessible: bool = False
    covered: bool = False
    # resident: the owner's usual absence (shareable then); institutional/street: opening hours;
    # empty: always available (public spaces).
    availability: list[Window] = []

    _id = field_validator("id_prefix")(_local_id)

    @model_validator(mode="after")
    def _hours_needed(self) -> SpaceGroup:
        if self.space_type in ("institutional", "street", "resident") and not self.availability:
            raise ValueError(f"{self.space_type} spaces need availability windows (opening or absence hours)")
        return self


class Space(_Strict):
    """One parking space, as registered; its occupancy sensor has the space's id."""

    id: str
    label: str
    space_type: SpaceType
    has_charger: bool
    accessible: bool
    covered: bool
    availability: list[Window]


class Charger(_Strict):
    """An EV charger at one space, shared by `shared_by` cars (多车一桩)."""

    id: str
    space: str
    shared_by: int = Field(default=1, ge=1, le=8)
    max_kw: float = Field(default=7.0, gt=0, le=350)

    _id = field_validator("id")(_local_id)


class Device(_Strict):
    """A gate, locker bank or elevator; `building` is required for elevators."""

    id: str
    location: str = ""
    building: str | None = None
    compartments: int | None = Field(default=None, ge=1, le=500)

    _id = field_validator("id")(_local_id)


class Community(_Strict):
    """A whole community as the simulators and `yiju simulate seed` see it."""

    id: str
    prefix: str
    name: str
    district: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    site_power_limit_kw: float = Field(gt=0)
    buildings: list[Building] = Field(min_length=1)
    parking: list[SpaceGroup] = []
    chargers: list[Charger] = []
    gates: list[Device] = []
    lockers: list[Device] = []
    elevators: list[Device] = []

    @field_validator("id", "prefix")
    @classmethod
    def _contract_id(cls, value: str) -> str:
        if not is_valid_id(value):
            raise ValueError(f"{value!r} does not match the contract's id pattern {ID_PATTERN}")
        return value

    @property
    def spaces(self) -> list[Space]:
        """The parking groups expanded, ids local (not cached: `model_copy` would keep it stale)."""
        return [
            Space(
                id=f"{g.id_prefix}-{n:03d}", label=f"{g.label}{n:03d}", space_type=g.space_type,
                has_charger=g.has_charger, accessible=g.accessible, covered=g.covered,
                availability=g.availability,
            )
            for g in self.parking
            for n in range(g.first, g.first + g.count)
        ]  # fmt: skip

    def full_id(self, local: str) -> str:
        """The registry id of a building, space or device."""
        return f"{self.prefix}-{local}"

    def devices(self) -> list[tuple[str, Kind, str | None, str]]:
        """Every device: (registry id, kind, registry building id, location)."""
        b = self.full_id
        made: list[tuple[str, Kind, str | None, str]] = [
            (b(s.id), Kind.PARKING_SPACE, None, s.label) for s in self.spaces
        ]
        made += [(b(g.id), Kind.PARKING_GATE, None, g.location) for g in self.gates]
        made += [(b(c.id), Kind.EV_CHARGER, None, f"space {c.space}") for c in self.chargers]
        made += [(b(x.id), Kind.PARCEL_LOCKER, None, x.location) for x in self.lockers]
        made += [(b(e.id), Kind.ELEVATOR, b(e.building or ""), e.location) for e in self.elevators]
        return made

    @model_validator(mode="after")
    def _references(self) -> Community:
        _unique("buildings", [x.id for x in self.buildings])
        spaces = {s.id: s for s in self.spaces}
        local = [*spaces, *(c.id for c in self.chargers)]
        local += [d.id for d in (*self.gates, *self.lockers, *self.elevators)]
        _unique("parking/chargers/gates/lockers/elevators", local)
        for full in (self.full_id(x) for x in local + [x.id for x in self.buildings]):
            if not is_valid_id(full):
                raise ValueError(f"id {full!r} (prefix + local id) does not match {ID_PATTERN}")
        served: dict[str, str] = {}
        for i, c in enumerate(self.chargers):
            where = f"chargers[{i}].space"
            if c.space not in spaces:
                raise ValueError(f"{where}: {c.space!r} is not a parking space of this community")
            if not spaces[c.space].has_charger:
                raise ValueError(f"{where}: space {c.space!r} is not marked has_charger")
            if c.space in served:
                raise ValueError(f"{where}: space {c.space!r} already served by charger {served[c.space]!r}")
            served[c.space] = c.id
        buildings = {x.id for x in self.buildings}
        for i, e in enumerate(self.elevators):
            if e.building not in buildings:
                raise ValueError(
                    f"elevators[{i}].building: {e.building!r} is not a building of this community"
                )
        for i, x in enumerate(self.buildings):
            listed = sum(e.building == x.id for e in self.elevators)
            if listed != x.elevators:
                raise ValueError(
                    f"buildings[{i}].elevators: {x.elevators}, but {listed} listed under elevators"
                )
        for i, locker in enumerate(self.lockers):
            if locker.compartments is None:
                raise ValueError(f"lockers[{i}].compartments: a locker bank needs its compartment count")
        return self


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise ValueError(f"{what}: duplicate id {value!r}")
        seen.add(value)


def load_community(path: Path | str) -> Community:
    """Read and validate a definition; a bad one raises CommunityError naming the file and field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CommunityError(f"{path}: {exc}") from None
    try:
        return Community.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{path}: {'.'.join(str(p) for p in e['loc']) or '(community)'}: {e['msg']}" for e in exc.errors()
        ]
        raise CommunityError("\n".join(lines)) from None


def resolve(name_or_path: str) -> Path:
    """A bundled community by name (`demo`) or a path to a YAML file."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        return Path(name_or_path)
    return COMMUNITIES_DIR / f"{name_or_path}.yaml"
