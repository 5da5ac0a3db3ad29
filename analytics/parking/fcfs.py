"""First come, first fit: the baseline every smarter allocator is measured against."""

from __future__ import annotations

import numpy as np

from analytics.parking.board import Board
from analytics.parking.eligibility import matrix
from analytics.parking.model import Booking, Instance


def allocate(instance: Instance) -> list[Booking]:
    """Requests in the instance's order; each takes the first eligible space (in the instance's
    space order) that is free for its stay, or is refused."""
    board = Board(instance.spaces, instance.buffer)
    allowed = matrix(instance.spaces, instance.requests)
    for i, r in enumerate(instance.requests):
        columns = np.flatnonzero(allowed[i])
        free = columns[board.free(columns, r.arrival, r.departure)]
        if free.size:
            board.put(Booking(r.id, instance.spaces[free[0]].id, r.arrival, r.departure))
    return list(board.bookings())
