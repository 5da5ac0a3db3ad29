"""Whether a set of bookings could really happen: the one judge of every allocator's output."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from analytics.parking.model import Booking, Instance, Request, Space, overlaps, refusal

Problem = Instance | tuple[Sequence[Space], Sequence[Request], int]


def violations(problem: Problem, bookings: Iterable[Booking]) -> list[str]:
    """Every reason `bookings` is infeasible for `problem` (an Instance or (spaces, requests,
    buffer)); empty when it is feasible."""
    spaces: Sequence[Space]
    requests: Sequence[Request]
    if isinstance(problem, Instance):
        spaces, requests, buffer = problem.spaces, problem.requests, problem.buffer
    else:
        spaces, requests, buffer = problem
    space_by_id = {s.id: s for s in spaces}
    request_by_id = {r.id: r for r in requests}
    found: list[str] = []
    seen: set[str] = set()
    by_space: dict[str, list[Booking]] = defaultdict(list)
    for b in bookings:
        space, request = space_by_id.get(b.space_id), request_by_id.get(b.request_id)
        if space is None:
            found.append(f"{b.request_id}: unknown space {b.space_id}")
        if request is None:
            found.append(f"{b.request_id}: unknown request")
        if b.request_id in seen:
            found.append(f"{b.request_id}: booked more than once")
        seen.add(b.request_id)
        if request is not None and (b.arrival, b.departure) != (request.arrival, request.departure):
            asked = f"{request.arrival}-{request.departure}"
            found.append(f"{b.request_id}: booked {b.arrival}-{b.departure}, asked {asked}")
        if space is not None and request is not None and (reason := refusal(space, request)):
            found.append(f"{b.request_id} on {b.space_id}: {reason}")
        by_space[b.space_id].append(b)
    for space_id, placed in by_space.items():
        placed.sort(key=lambda b: b.occupied(buffer))
        latest = placed[0]
        for b in placed[1:]:
            if overlaps(latest.occupied(buffer), b.occupied(buffer)):
                found.append(f"{latest.request_id} and {b.request_id} overlap on {space_id}")
            if b.occupied(buffer)[1] > latest.occupied(buffer)[1]:
                latest = b
    return found
