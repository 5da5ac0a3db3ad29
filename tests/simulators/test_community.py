"""Community definitions: the demo's numbers, precise errors, the seeded generator."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.contract.topics import Kind, is_valid_id
from simulators.community import CommunityError, load_community, resolve
from simulators.generate import DISTRICTS, generate

DEMO = resolve("demo")


def test_demo_matches_the_issue() -> None:
    c = load_community(DEMO)
    assert 6 <= len(c.buildings) <= 7
    assert all(6 <= b.floors <= 7 for b in c.buildings)
    assert 380 <= sum(b.households for b in c.buildings) <= 420
    assert 140 <= len(c.spaces) <= 160
    types = Counter(s.space_type for s in c.spaces)
    assert types["resident"] >= 80 and types["public"] >= 15
    assert types["institutional"] >= 20 and types["street"] >= 10
    assert 10 <= sum(s.has_charger for s in c.spaces) == len(c.chargers) <= 14
    assert sum(s.accessible for s in c.spaces) >= 4
    assert any(ch.shared_by > 1 for ch in c.chargers)
    assert [lk.compartments for lk in c.lockers] == [60, 80]
    assert {e.building for e in c.elevators} == {b.id for b in c.buildings}
    kinds = Counter(kind for _, kind, _, _ in c.devices())
    assert kinds[Kind.PARKING_SPACE] == len(c.spaces) and kinds[Kind.EV_CHARGER] == len(c.chargers)
    assert kinds[Kind.PARCEL_LOCKER] == 2 and kinds[Kind.ELEVATOR] == len(c.elevators)
    assert all(is_valid_id(d[0]) for d in c.devices())
    assert c.district == "西陵区" and 30.6 < c.lat < 30.8 and 111.2 < c.lon < 111.4


def _demo_data() -> dict[str, Any]:
    return yaml.safe_load(DEMO.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _duplicate_charger(d: dict[str, Any]) -> None:
    d["chargers"].append({**d["chargers"][0], "space": "ps-107"})


def _bad_id(d: dict[str, Any]) -> None:
    d["gates"][0]["id"] = "Gate_1"


def _dangling_space(d: dict[str, Any]) -> None:
    d["chargers"][0]["space"] = "ps-999"


def _dangling_building(d: dict[str, Any]) -> None:
    d["elevators"][0]["building"] = "b9"


def _bad_hour(d: dict[str, Any]) -> None:
    d["parking"][0]["availability"][0]["end"] = "25:00"


def _empty_window(d: dict[str, Any]) -> None:
    d["parking"][0]["availability"][0]["end"] = "08:00"


def _street_without_hours(d: dict[str, Any]) -> None:
    d["parking"][-1].pop("availability")


def _bad_community_id(d: dict[str, Any]) -> None:
    d["id"] = "-demo"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_duplicate_charger, "duplicate id 'ch-01'"),
        (_bad_id, "gates.0.id: Value error, id 'Gate_1' must match"),
        (_dangling_space, "chargers[0].space: 'ps-999' is not a parking space"),
        (_dangling_building, "elevators[0].building: 'b9' is not a building"),
        (_bad_hour, "parking.0.availability.0.end: Value error, '25:00' is not an hour"),
        (_empty_window, "window 08:00-08:00 is empty"),
        (_street_without_hours, "parking.9: Value error, street spaces need availability"),
        (_bad_community_id, "id: Value error, '-demo' does not match"),
    ],
)
def test_invalid_definitions_name_file_and_field(tmp_path: Path, edit: Any, expected: str) -> None:
    data = _demo_data()
    edit(data)
    path = _write(tmp_path, data)
    with pytest.raises(CommunityError) as raised:
        load_community(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert expected in str(raised.value)


def test_unreadable_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(CommunityError, match=r"broken\.yaml"):
        load_community(path)


def test_generator_is_deterministic_for_a_seed() -> None:
    first = generate(20, seed=7)
    assert generate(20, seed=7) == first
    assert generate(20, seed=8) != first
    assert {c.district for c in first} == set(DISTRICTS)
    assert len({c.id for c in first}) == 20
    ids = [d[0] for c in first for d in c.devices()]
    assert len(ids) == len(set(ids)) and all(is_valid_id(i) for i in ids)
    assert len({len(c.spaces) for c in first}) > 5  # sizes vary
    for c in first:
        lat, lon = DISTRICTS[c.district]
        assert abs(c.lat - lat) < 0.05 and abs(c.lon - lon) < 0.05
