"""Grafana's PostgreSQL macros and template variables, expanded as Grafana documents them.

Grafana expands a panel's SQL in two steps: template variables first (the front end), then the
`$__` macros (the PostgreSQL data source, with the TimescaleDB option on, so `$__timeGroup` is a
`time_bucket`). The tests and the benchmark run the dashboards' SQL through this expander.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"^\s*'?(\d+)(ms|s|m|h|d|w|y)'?\s*$")
# Grafana's roundInterval (rangeutil): upper bound in ms -> the interval chosen below it.
_ROUND_MS = (
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000),
    (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000),
    (45_000, 30_000), (90_000, 60_000), (210_000, 120_000), (450_000, 300_000),
    (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000), (2_700_000, 1_800_000),
    (5_400_000, 3_600_000), (9_000_000, 7_200_000), (16_200_000, 10_800_000),
    (32_400_000, 21_600_000), (86_400_000, 43_200_000), (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000), (3_628_800_000, 2_592_000_000),
)  # fmt: skip
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)(?::(\w+))?\]\]")
_MACRO = re.compile(r"\$__(\w+)(\()?")


class MacroError(ValueError):
    """The SQL uses a macro or variable the expander does not know, or a malformed one."""


@dataclass(frozen=True)
class Variable:
    """A template variable's current value(s); `multi` when it allows several or "All"."""

    values: tuple[str, ...]
    multi: bool = False


@dataclass(frozen=True)
class TimeRange:
    """The dashboard's time range and the panel's resolution."""

    start: datetime
    end: datetime
    max_data_points: int = 1000
    min_interval: str | None = None  # the panel's "Min interval", e.g. "1h" on rollup panels

    @property
    def interval(self) -> timedelta:
        """`$__interval`: range / data points, rounded as Grafana rounds it, at least the minimum."""
        raw_ms = (self.end - self.start).total_seconds() * 1000 / self.max_data_points
        rounded = next((to for below, to in _ROUND_MS if raw_ms < below), 31_536_000_000)
        chosen = timedelta(milliseconds=rounded)
        if self.min_interval:
            chosen = max(chosen, parse_duration(self.min_interval))
        return chosen


def parse_duration(text: str) -> timedelta:
    """'5m', '1h', '30s' (optionally quoted) as a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise MacroError(f"not a Grafana duration: {text!r}")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """A timedelta as Grafana writes `$__interval`: the largest whole unit (1d, 5m, 200ms)."""
    ms = round(value.total_seconds() * 1000)
    for unit in ("y", "w", "d", "h", "m", "s"):
        size = round(_UNITS[unit] * 1000)
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format(var: Variable, fmt: str | None) -> str:
    # Grafana's SQL data sources: a single value goes in raw (quotes escaped), several or "All"
    # are quoted and joined by commas, ready for `IN ($var)`.
    if fmt is None:
        if var.multi:
            return ",".join(_quote(v) for v in var.values) if var.values else "NULL"
        return var.values[0].replace("'", "''") if var.values else ""
    if fmt == "csv":
        return ",".join(var.values)
    if fmt == "sqlstring":
        return ",".join(_quote(v) for v in var.values)
    if fmt == "raw":
        return ",".join(var.values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in var.values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in var.values)
    if fmt == "pipe":
        return "|".join(var.values)
    raise MacroError(f"unknown variable format {fmt!r}")


def expand_variables(text: str, variables: Mapping[str, Variable], time: TimeRange) -> str:
    """Replace `$var`, `${var}`, `${var:fmt}` and `[[var]]`; `$__interval` and friends too."""
    builtins = {
        "__interval": Variable((format_duration(time.interval),)),
        "__interval_ms": Variable((str(round(time.interval.total_seconds() * 1000)),)),
        "__range_s": Variable((str(round((time.end - time.start).total_seconds())),)),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3) or match.group(4)
        fmt = match.group(2) or match.group(5)
        if name in builtins:
            return _format(builtins[name], fmt)
        if name.startswith("__"):
            return match.group(0)  # a data-source macro, expanded in the second step
        if name not in variables:
            raise MacroError(f"undefined variable ${name}")
        return _format(variables[name], fmt)

    return _VARIABLE.sub(replace, text)


def _args(text: str, start: int) -> tuple[list[str], int]:
    """Comma-separated arguments of a macro call opened just before `start`, and the end index."""
    depth, args, current, i = 1, [], "", start
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(current.strip())
                return [a for a in args if a], i + 1
        elif ch == "," and depth == 1:
            args.append(current.strip())
            current = ""
            i += 1
            continue
        current += ch
        i += 1
    raise MacroError("unclosed macro call")


def _ts(value: datetime) -> str:
    return "'" + value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def _group(args: Sequence[str]) -> str:
    if len(args) < 2:
        raise MacroError("$__timeGroup needs a column and an interval")
    seconds = round(parse_duration(args[1]).total_seconds())
    return f"time_bucket('{seconds}s', {args[0]})"


def expand_macros(text: str, time: TimeRange) -> str:
    """Expand the PostgreSQL data source's `$__` macros (TimescaleDB option on)."""
    out, pos = [], 0
    for match in _MACRO.finditer(text):
        if match.start() < pos:
            continue
        name, opened = match.group(1), match.group(2)
        args, end = _args(text, match.end()) if opened else ([], match.end())
        if name in {"timeFilter", "time", "timeGroup", "timeGroupAlias", "unixEpochFilter"} and not args:
            raise MacroError(f"$__{name} needs a column")
        if name == "timeFilter":
            value = f"{args[0]} BETWEEN {_ts(time.start)} AND {_ts(time.end)}"
        elif name == "timeFrom":
            value = _ts(time.start)
        elif name == "timeTo":
            value = _ts(time.end)
        elif name == "time":
            value = f'{args[0]} AS "time"'
        elif name == "timeGroup":
            value = _group(args)
        elif name == "timeGroupAlias":
            value = _group(args) + ' AS "time"'
        elif name == "unixEpochFilter":
            value = f"{args[0]} >= {int(time.start.timestamp())} AND {args[0]} <= {int(time.end.timestamp())}"
        else:
            raise MacroError(f"unknown macro $__{name}")
        out += [text[pos : match.start()], value]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def expand(text: str, variables: Mapping[str, Variable], time: TimeRange) -> str:
    """A panel's SQL as Grafana would send it to PostgreSQL."""
    return expand_macros(expand_variables(text, variables, time), time)
