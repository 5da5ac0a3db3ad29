"""A space's availability as minute windows: the registry's recurring rules expanded over a horizon.

Rules are `{"days": "daily|workdays|weekends", "start": "HH:MM", "end": "HH:MM"}` in the
community's local time (`parking_spaces.availability`, validated by `simulators.community.Window`);
`end` before `start` runs past midnight into the next day, and `days` names the day the window
opens on. An empty rule list means always available. Workdays are Monday to Friday: there is no
holiday calendar (调休 make-up workdays and public holidays are not known here).

Wall-clock times become minutes from `origin_local` through the zone's real offsets, so on a DST
change a window is an hour shorter or longer; a start inside a spring-forward gap is read with the
pre-transition offset (Python's fold=0 rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Literal

Days = Literal["daily", "workdays", "weekends"]
Span = tuple[int, int]


def expand(
    rules: Sequence[Mapping[str, str]],
    origin_local: datetime,
    horizon_minutes: int,
    one_off: Iterable[Span] = (),
    withdrawn: Iterable[Span] = (),
) -> tuple[Span, ...]:
    """Sorted, disjoint [start, end) minute windows over [0, horizon): the recurring rules
    (all of the horizon if there are none) plus `one_off` minus `withdrawn`."""
    if origin_local.tzinfo is None:
        raise ValueError("origin_local must be timezone-aware (the community's local time)")
    if horizon_minutes <= 0:
        return ()
    spans = list(_recurring(rules, origin_local, horizon_minutes)) if rules else [(0, horizon_minutes)]
    spans += one_off
    return subtract(merge(spans, 0, horizon_minutes), merge(withdrawn, 0, horizon_minutes))


def merge(spans: Iterable[Span], lo: int, hi: int) -> list[Span]:
    """Union of `spans` clipped to [lo, hi); touching spans join."""
    out: list[Span] = []
    for start, end in sorted((max(s, lo), min(e, hi)) for s, e in spans):
        if start >= end:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def subtract(spans: Sequence[Span], holes: Sequence[Span]) -> tuple[Span, ...]:
    """`spans` minus `holes`; both sorted and disjoint."""
    out: list[Span] = []
    i = 0
    for start, end in spans:
        while i < len(holes) and holes[i][1] <= start:
            i += 1
        cursor, j = start, i
        while j < len(holes) and holes[j][0] < end:
            if holes[j][0] > cursor:
                out.append((cursor, holes[j][0]))
            cursor = max(cursor, holes[j][1])
            j += 1
        if cursor < end:
            out.append((cursor, end))
    return tuple(out)


def _recurring(rules: Sequence[Mapping[str, str]], origin: datetime, horizon: int) -> Iterable[Span]:
    zone = origin.tzinfo
    origin_utc = origin.astimezone(UTC)
    first = origin.date() - timedelta(days=1)  # yesterday's overnight window reaches into minute 0
    last = (origin_utc + timedelta(minutes=horizon)).astimezone(zone).date()
    for rule in rules:
        days: str = rule.get("days", "daily")
        if days not in ("daily", "workdays", "weekends"):
            raise ValueError(f"availability days {days!r} is not daily, workdays or weekends")
        start, end = _hhmm(rule["start"]), _hhmm(rule["end"])
        if start == end:
            raise ValueError(f"availability window {rule['start']}-{rule['end']} is empty")
        for n in range((last - first).days + 1):
            day = first + timedelta(days=n)
            if (days == "workdays" and day.weekday() >= 5) or (days == "weekends" and day.weekday() < 5):
                continue
            opens = datetime.combine(day, start, tzinfo=zone)
            closes = datetime.combine(day + timedelta(days=1 if end < start else 0), end, tzinfo=zone)
            yield _minutes(opens, origin_utc), _minutes(closes, origin_utc)


def _hhmm(value: str) -> time:
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes))


def _minutes(moment: datetime, origin_utc: datetime) -> int:
    return int((moment.astimezone(UTC) - origin_utc).total_seconds() // 60)
