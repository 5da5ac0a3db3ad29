"""Synthetic communities across Yichang's districts and counties, for scale tests (seeded)."""

from __future__ import annotations

import random

from simulators.community import Building, Charger, Community, Device, SpaceGroup, SpaceType, Window

# District or county seat (县市区) and the rough centre of its built-up area.
DISTRICTS: dict[str, tuple[float, float]] = {
    "西陵区": (30.702, 111.286),
    "伍家岗区": (30.651, 111.358),
    "点军区": (30.693, 111.268),
    "猇亭区": (30.530, 111.434),
    "夷陵区": (30.770, 111.327),
    "宜都市": (30.378, 111.450),
    "枝江市": (30.425, 111.760),
    "当阳市": (30.821, 111.788),
    "远安县": (31.060, 111.640),
    "兴山县": (31.348, 110.747),
    "秭归县": (30.825, 110.978),
    "长阳县": (30.473, 111.207),
    "五峰县": (30.199, 110.674),
}
_STREETS = (
    "东山",
    "夷陵",
    "解放",
    "铁路坝",
    "桃花岭",
    "滨江",
    "明珠",
    "桔城",
    "白沙",
    "金山",
    "胜利",
    "前进",
)
_SUFFIX = ("小区", "社区", "家属院", "新村", "花园")
_WORKDAY = [Window(days="workdays", start="08:00", end="18:00")]
_NIGHT_INSTITUTION = [Window(start="18:00", end="08:00")]
_NIGHT_STREET = [Window(start="19:00", end="07:00")]


def generate(n: int, *, seed: int = 0, prefix: str = "sim") -> list[Community]:
    """`n` communities, the same ones for the same seed; ids `{prefix}{seed}-NNNN`."""
    rng = random.Random(seed)
    names = list(DISTRICTS)
    return [_one(rng, names[i % len(names)], f"{prefix}{seed}-{i:04d}") for i in range(n)]


def _one(rng: random.Random, district: str, cid: str) -> Community:
    lat, lon = DISTRICTS[district]
    buildings = []
    elevators = []
    # Most old estates are 5-7 storey walk-ups, 2 households per landing, 2-5 units a block.
    for b in range(1, rng.randint(3, 16) + 1):
        floors, units = rng.choice((5, 6, 6, 7, 7)), rng.randint(2, 5)
        lifts = rng.choice((0, 0, 1, units))
        buildings.append(
            Building(id=f"b{b}", name=f"{b}栋", floors=floors, households=floors * units * 2, elevators=lifts)
        )
        elevators += [
            Device(id=f"el-b{b}-{u}", building=f"b{b}", location=f"{u}单元") for u in range(1, lifts + 1)
        ]
    households = sum(b.households for b in buildings)
    spaces = max(10, int(households * rng.uniform(0.25, 0.45)))
    resident, public = int(spaces * 0.6), int(spaces * 0.15)
    institutional = rng.choice((0, int(spaces * 0.15)))
    street = spaces - resident - public - institutional
    chargers = max(1, spaces // 12)
    groups = [
        SpaceGroup(label="C", first=1, count=chargers, space_type="public", has_charger=True),
        SpaceGroup(
            label="R", first=chargers + 1, count=resident, space_type="resident", availability=_WORKDAY
        ),
        SpaceGroup(label="P", first=chargers + resident + 1, count=public, space_type="public"),
    ]
    first = chargers + resident + public + 1
    night: list[tuple[str, int, SpaceType, list[Window]]] = [
        ("J", institutional, "institutional", _NIGHT_INSTITUTION),
        ("S", street, "street", _NIGHT_STREET),
    ]
    for label, count, kind, hours in night:
        if count:
            groups.append(
                SpaceGroup(label=label, first=first, count=count, space_type=kind, availability=hours)
            )
            first += count
    return Community(
        id=cid,
        prefix=cid,
        name=f"{rng.choice(_STREETS)}{rng.randint(1, 99)}号{rng.choice(_SUFFIX)}",
        district=district,
        lat=round(lat + rng.uniform(-0.03, 0.03), 5),
        lon=round(lon + rng.uniform(-0.03, 0.03), 5),
        site_power_limit_kw=round(chargers * 7 * rng.uniform(0.6, 1.0), 1),
        buildings=buildings,
        parking=groups,
        chargers=[
            Charger(id=f"ch-{c:02d}", space=f"ps-{c:03d}", shared_by=rng.choice((1, 2, 2, 3)))
            for c in range(1, chargers + 1)
        ],
        gates=[Device(id="gate-1", location="大门")],
        lockers=[
            Device(id=f"lk-{k}", compartments=rng.choice((40, 60, 80, 120)))
            for k in range(1, households // 300 + 2)
        ],
        elevators=elevators,
    )
