"""Cursor pagination: a cursor is the sort key of the last item, opaque to the caller."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query

from api.errors import BadRequest

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, pattern=r"^[A-Za-z0-9_-]*$", description="`next_cursor` of the previous page"),
]


def bigint(value: Any) -> int:
    """A cursor part that PostgreSQL compares as bigint (a larger one is not ours: 400, not 500)."""
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("out of range")
    return number


def encode(key: Sequence[Any]) -> str:
    """The cursor after an item with this sort key."""
    return base64.urlsafe_b64encode(json.dumps(list(key), default=str).encode()).decode().rstrip("=")


def decode(cursor: str | None, parsers: Sequence[Callable[[Any], Any]]) -> list[Any] | None:
    """The sort key in a cursor, read by one parser per part; 400 when it is not one of ours."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(key, list) or len(key) != len(parsers) or "\\u0000" in json.dumps(key):
            raise ValueError
        return [parse(value) for parse, value in zip(parsers, key, strict=True)]
    except (ValueError, TypeError):
        raise BadRequest("invalid cursor") from None


def page(rows: list[T], limit: int, key: Callable[[T], Sequence[Any]]) -> tuple[list[T], str | None]:
    """Cut rows fetched with `limit + 1` to a page and the cursor of the next one."""
    if len(rows) <= limit:
        return rows, None
    items = rows[:limit]
    return items, encode(key(items[-1]))
