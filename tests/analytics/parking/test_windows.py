"""Availability rules expanded to minute windows: overnight, workdays, one-offs, withdrawals, DST."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from analytics.parking.windows import expand

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 3, 2, tzinfo=SHANGHAI)
FRIDAY = datetime(2026, 3, 6, tzinfo=SHANGHAI)
DAY = 1440


def rule(start: str, end: str, days: str = "daily") -> dict[str, str]:
    return {"days": days, "start": start, "end": end}


def test_no_rules_means_always() -> None:
    assert expand([], MONDAY, 2 * DAY) == ((0, 2 * DAY),)


def test_daily_hours_each_day() -> None:
    assert expand([rule("08:00", "18:00")], MONDAY, 2 * DAY) == ((480, 1080), (DAY + 480, DAY + 1080))


def test_overnight_includes_the_night_that_began_the_day_before() -> None:
    # 18:00-08:00: minute 0 is inside Sunday night's window; Monday night is cut at the horizon
    assert expand([rule("18:00", "08:00")], MONDAY, DAY) == ((0, 480), (1080, DAY))


def test_workdays_and_weekends() -> None:
    # Friday and the weekend: the workday window only on Friday, the weekend one on Sat and Sun
    rules = [rule("08:00", "18:00", "workdays"), rule("09:00", "12:00", "weekends")]
    assert expand(rules, FRIDAY, 3 * DAY) == (
        (480, 1080),
        (DAY + 540, DAY + 720),
        (2 * DAY + 540, 2 * DAY + 720),
    )


def test_an_overnight_window_belongs_to_the_day_it_opens() -> None:
    # workdays 18:00-08:00: Thursday night reaches into Friday, Friday night into Saturday, and
    # there is no Saturday or Sunday night; so a Monday starts closed
    assert expand([rule("18:00", "08:00", "workdays")], FRIDAY, 3 * DAY) == ((0, 480), (1080, DAY + 480))
    monday = expand([rule("18:00", "08:00", "workdays")], MONDAY, DAY)
    assert monday == ((1080, DAY),)


def test_touching_windows_merge_and_one_offs_add() -> None:
    rules = [rule("08:00", "12:00"), rule("12:00", "14:00")]
    assert expand(rules, MONDAY, DAY) == ((480, 840),)
    assert expand(rules, MONDAY, DAY, one_off=[(840, 900), (1000, 1100)]) == ((480, 900), (1000, 1100))


def test_withdrawn_ranges_are_cut_out() -> None:
    rules = [rule("08:00", "18:00")]
    assert expand(rules, MONDAY, DAY, withdrawn=[(600, 660)]) == ((480, 600), (660, 1080))
    assert expand(rules, MONDAY, DAY, withdrawn=[(0, 500), (1000, 2000)]) == ((500, 1000),)
    assert expand(rules, MONDAY, DAY, withdrawn=[(0, DAY)]) == ()


def test_a_spring_forward_night_is_an_hour_shorter() -> None:
    # New York moves from EST to EDT at 02:00 on Sunday 8 March 2026: 01:00-04:00 lasts two hours
    origin = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    assert expand([rule("01:00", "04:00")], origin, 2 * DAY) == ((60, 180), (DAY + 0, DAY + 180))


def test_a_day_without_daylight_saving_is_regular() -> None:
    origin = datetime(2026, 3, 8, tzinfo=SHANGHAI)
    assert expand([rule("01:00", "04:00")], origin, 2 * DAY) == ((60, 240), (DAY + 60, DAY + 240))


def test_naive_origins_and_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        expand([], datetime(2026, 3, 2), DAY)  # noqa: DTZ001 - the naive datetime is the point
    with pytest.raises(ValueError, match="empty"):
        expand([rule("08:00", "08:00")], MONDAY, DAY)
    with pytest.raises(ValueError, match="days"):
        expand([rule("08:00", "09:00", "holidays")], MONDAY, DAY)
