"""Yiju's online allocator: every request is answered at once, in the order it reaches the service.

- Best fit: among eligible free spaces take the one where the stay leaves the least free time
  around it (to the neighbouring bookings or the edge of the window), so long free runs stay whole
  for long stays.
- Scarcity: a driver who needs no charger, accessible or large space gets one only when nothing
  else is free.
- Late binding: a booking promises its stay at the price quoted and what the driver asked for
  (`pools`), not a space. Until `bind_lead` minutes before its arrival it may move to any other
  space its request may use. When nothing is free for a new request, the allocator looks for
  such moves that make room: bookings in the way go elsewhere directly or by moving what is in
  their way, `depth` levels deep (a bounded search, `effort` spaces tried). An accepted request
  is never dropped. Moves keep a booking's times, so a minute at which no space is free stays so
  however bookings move: the search is not even started unless some space is free at every
  minute of the stay (in a full car park this answers refusals at once, where the search would
  spend its whole effort in vain).
- Exact re-packing (`repack`): when the search finds no way although there is room at every
  minute, the movable bookings near the stay (up to `REPACK_MARGINS` minutes either side) are laid
  out afresh with it by a small integer program, moving as few as possible.
- A wider window re-solved by space type (`neighbourhood.refill`): when that fails too, the
  movable bookings held wholly within `RETYPE_MARGINS` of the stay are freed. Spaces that no
  movable booking (nor the stay) can tell apart are one type, and a MIP gives the freed bookings
  and the stay each a type whose load stays within its spaces beside the bookings that stay
  (those across the window's edge keep their type). The types that gain a booking are then laid
  out afresh by arrival, each booking keeping its space where it can: within a type that always
  fits (interval graphs are perfect), unless a bound booking is in the way, when `repack.assign`
  lays them out exactly. Counting per type keeps the MIP small enough for a window of hundreds
  of bookings, where on a busy day the concrete re-pack sees only the few dozen around the stay.
  Handed the optimum's own 5,790 requests of a day (10,000 on 300 spaces, d/s 0.6, seed 1), the
  online places 5,680 of them instead of 5,537 (`bench.allocation_packing`).
- Admission control (optional, `admission.Admission`): with a demand forecast, a request whose
  stay would hold space-time that the forecast's later requests need more (its bid-price cost
  exceeds one driver served) is refused although it fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from analytics.parking.admission import Admission, forecast, resources
from analytics.parking.board import Board
from analytics.parking.eligibility import matrix
from analytics.parking.model import BUFFER_MINUTES, Booking, Instance, Request, Space, refusal
from analytics.parking.neighbourhood import Stays, refill
from analytics.parking.pools import amenities, types
from analytics.parking.repack import NEW, assign

# How far the room-making search goes. Drivers served with admission control (2,000 requests,
# demand/supply 1.0, seeds 1-3, three earlier days, the pooled LP's prices): depth 2 and effort 60
# 4,139; depth 3 and 1,000 4,177; depth 4 and 400 4,191; depth 5 and 400 4,180; depth 6 and
# 1,000 4,179. With four earlier days and the mean prices (`admission.prices`): depth 4 and 400
# 4,244, depth 8 and 1,000 4,243 (seed 1 1,412 -> 1,406, seed 3 1,386 -> 1,388); at 10,000
# requests depth 8 serves more: seed 1 5,054 -> 5,088 (171 s -> 209 s for the day), seed 2
# 5,022 -> 5,058 (277 s -> 319 s). So the search goes 8 deep under admission control with a
# forecast, which sends it only requests worth serving. Without one (a community with no history)
# a refusal the search cannot rule out at once spends the whole effort, and a full car park costs
# far more per request: a 2,000-request day at d/s 1.0 took 15 s at depth 2 and 60, 41 s at 4
# and 400, 84 s at 8 and 1,000 (836 s for 10,000 requests).
DEPTH, EFFORT = 4, 400
DEPTH_ADMITTED, EFFORT_ADMITTED = 8, 1_000
# Which bookings an exact re-pack may move: those holding a minute within the widest of these
# margins (minutes either side of the stay) where they make at most REPACK_VARIABLES (booking,
# space) pairs; and how long HiGHS may take over it (LP and MIP together). Measured when moves
# kept a booking's pool (kind and price rule), so a re-pack took that pool's bookings: drivers
# served with admission control, seed 1, without re-packing -> with it: 2,000 requests on 60
# spaces, d/s 0.6: 1,011 -> 1,026; 2,000 on 300, d/s 1.0: 1,421 -> 1,423 and d/s 1.5: 1,071 ->
# 1,077; 10,000 on 300, d/s 0.6: 5,404 -> 5,445, d/s 0.8: 5,346 -> 5,410 and d/s 1.0: 5,104 ->
# 5,167 (500-700 re-packs a day, 40-50 s of HiGHS, one in eight to one in five fitting). Capped
# at 80 bookings instead: 1,018 (2,000 on 60), 1,426 (2,000 on 300, d/s 1.0), 5,438 and 5,395
# (10,000, d/s 0.6 and 0.8). The whole pool within 120 minutes, uncapped: 1,026 on 2,000 on 60,
# but up to 2 s a re-pack on 300 spaces. Since moves may cross kinds (`pools`), 20,000 pairs
# instead of 6,000 served 1,068 against 1,062 (2,000 on 60; 81 s against 62 s for the day) and
# 5,533 against 5,528 (10,000 on 300, d/s 0.6): within the run-to-run spread, so kept at 6,000.
REPACK_MARGINS = (120, 60, 30, 0)
REPACK_VARIABLES = 6_000
REPACK_SECONDS = 1.0
# The window re-solved by type: the widest of RETYPE_MARGINS (minutes either side of the stay)
# holding at most RETYPE_STAYS movable bookings, and HiGHS's time for it. Handed the optimum's
# requests, with one fixed margin: 2,000 on 60 spaces (about 350 stays freed at 150 minutes)
# 150 placed 1,118 of 1,122 and 60 1,111; 10,000 on 300 (about 1,200 freed at 150, 600 at 60)
# 150 placed 5,553 of 5,790, its MIPs running out of time, and 60 5,632 (before the layout by
# type was whole-day: 5,537 without the window at all).
RETYPE_MARGINS = (150, 90, 60, 30)
RETYPE_STAYS = 700
RETYPE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Placement:
    """The new booking and the existing ones moved to other spaces to make room (apply together)."""

    booking: Booking
    moves: list[Booking]


class OnlineAllocator:
    """The bookings on `spaces`, and room-making for new ones."""

    def __init__(
        self,
        spaces: Sequence[Space],
        buffer: int = BUFFER_MINUTES,
        bind_lead: int = 30,
        *,
        depth: int | None = None,
        effort: int | None = None,
        admission: Admission | None = None,
        repack: bool = True,
    ) -> None:
        """`repack`: try an exact re-pack before refusing (see the module's docstring)."""
        self.board = Board(spaces, buffer)
        self.spaces = self.board.spaces
        self.bind_lead = bind_lead
        # levels of moves (1 moves what is in the way, 2 also what is in theirs) and room-making
        # attempts (spaces tried) per request; by default deeper under admission control
        admitted = admission is not None and admission.forecasting
        self.depth = (DEPTH_ADMITTED if admitted else DEPTH) if depth is None else depth
        self.effort = (EFFORT_ADMITTED if admitted else EFFORT) if effort is None else effort
        self.admission = admission
        self.repack = repack
        self._requests: dict[str, Request] = {}  # movable unless bound
        self._known: Mapping[str, Request] = {}  # the same, of bookings added all at once
        self._bound: set[str] = set()
        self._allowed: dict[str, np.ndarray] = {}  # request id -> may use each space (when known)
        self._targets: dict[str, np.ndarray] = {}
        self._amenities = np.array([amenities(s) for s in self.spaces], dtype=bool)
        self._now: int | None = None
        self._budget = 0
        self._stuck: set[str] = set()  # bookings that found no room in this search: not tried again
        self.held_back = False  # whether admission control turned away spaces in the last `place`

    @property
    def bookings(self) -> dict[str, Booking]:
        return {rid: b for rid, (_, b) in self.board.placed.items()}

    def add_existing(self, booking: Booking, bound: bool, request: Request | None = None) -> None:
        """A booking made earlier. It may move only if it is not bound and its request is known."""
        self.board.put(booking)
        self._keep(booking, bound, request)

    def add_all_existing(self, held: Iterable[Booking], requests: Mapping[str, Request]) -> None:
        """`add_existing` for many bookings at once, none bound: those with a request in `requests`
        may move, the rest stay put. A request is read only when its booking is about to move, so
        `requests` may make them on demand (the API's bookings load faster that way)."""
        placed = list(held)
        self.board.put_all(placed)
        self._known = {**self._known, **requests} if self._known else requests
        self._bound.update(b.request_id for b in placed if b.request_id not in requests)

    def _keep(self, booking: Booking, bound: bool, request: Request | None) -> None:
        if bound or request is None:
            self._bound.add(booking.request_id)
        else:
            self._requests[booking.request_id] = request

    def allow(self, request_id: str, allowed: np.ndarray) -> None:
        """Which spaces a booked request may use (else worked out when needed)."""
        self._allowed[request_id] = allowed

    def place(
        self,
        request: Request,
        now: int | None = None,
        *,
        allowed: np.ndarray | None = None,
        clock: float | None = None,
    ) -> Placement | None:
        """Book `request` if it can be made to fit, else None (nothing changes). `now` (minutes)
        binds the bookings arriving within `bind_lead` of it; None binds none. `allowed` (one
        boolean per space) saves working out which spaces it may use. `clock` (on the
        admission control's clock) turns admission control on, if the allocator has it; then
        `held_back` tells whether it turned spaces away."""
        self.held_back = False
        if clock is not None:
            if allowed is None:
                allowed = matrix(self.spaces, [request])[0]
            admitted = self.worth(request, clock, allowed, record=True)
            self.held_back = bool(admitted.sum() < allowed.sum())
            allowed = admitted
            if not allowed.any():
                return None
        placement, _ = self._search(request, now, allowed)
        return placement

    def worth(
        self, request: Request, clock: float, allowed: np.ndarray | None = None, *, record: bool = False
    ) -> np.ndarray:
        """The spaces admission control lets `request` use at `clock` (all it may use, without
        admission control). `record`: as for `Admission.worth` (`place` records)."""
        if allowed is None:
            allowed = matrix(self.spaces, [request])[0]
        if self.admission is None:
            return allowed
        column = self.board.column
        held = self.bookings.values
        return self.admission.worth(
            request, allowed, clock, lambda: ((column[b.space_id], b) for b in held()), record=record
        )

    def fits(
        self,
        request: Request,
        now: int | None = None,
        clock: float | None = None,
        effort: int | None = None,
        *,
        allowed: np.ndarray | None = None,
        repack: bool = True,
    ) -> bool:
        """Whether `request` could be placed (moves included, admitted at `clock` if given);
        nothing changes. `effort` caps the room-making attempts (default: the allocator's);
        `effort_left` tells what the search left of it. `allowed` as for `place`. `repack`: also
        try an exact re-pack (if the allocator does)."""
        if clock is not None:
            allowed = self.worth(request, clock, allowed)
        if allowed is not None and not allowed.any():
            return False
        placement, undo = self._search(request, now, allowed, effort, repack)
        if placement is not None:
            self._rollback(undo, 0)
            self._forget(request.id)
        return placement is not None

    @property
    def effort_left(self) -> int:
        """Room-making attempts the last search had left."""
        return max(0, self._budget)

    def _search(
        self,
        request: Request,
        now: int | None,
        allowed: np.ndarray | None,
        effort: int | None = None,
        repack: bool = True,
    ) -> tuple[Placement | None, list[tuple[str, Booking | None]]]:
        if request.id in self.board.placed:
            raise ValueError(f"{request.id} is already booked")
        if allowed is None:
            allowed = matrix(self.spaces, [request])[0]
        self._allowed[request.id] = allowed
        self._requests[request.id] = request
        self._now, self._budget = now, self.effort if effort is None else effort
        self._stuck.clear()
        origin: dict[str, str] = {}  # where each booking taken up was before
        undo: list[tuple[str, Booking | None]] = []
        columns = np.flatnonzero(allowed)
        if not self.board.covered(request.arrival, request.departure):  # no moves could help
            self._forget(request.id)
            return None, []
        if not self._fit(request, columns, self.depth, {request.id}, undo, origin):
            self._rollback(undo, 0)
            exact = repack and self.repack
            if not exact or not (
                self._repack(request, columns, undo, origin) or self._retype(request, columns, undo, origin)
            ):
                self._forget(request.id)
                return None, []
        now_at = {rid: self.board.placed[rid][1] for rid in origin}
        moves = [b for rid, b in now_at.items() if b.space_id != origin[rid]]
        return Placement(self.board.placed[request.id][1], moves), undo

    def _repack(
        self,
        request: Request,
        columns: np.ndarray,
        undo: list[tuple[str, Booking | None]],
        origin: dict[str, str],
    ) -> bool:
        """Lay the movable bookings near the stay out afresh with it (`repack.assign`); on
        failure nothing has changed."""
        mark = len(undo)
        stays: list[Booking] = []
        within: list[np.ndarray] = []
        for r in self._near(request):
            b = self.board.placed[r][1]
            origin.setdefault(r, b.space_id)
            stays.append(b)
            within.append(self._movable_to(r))
            self._take(r, undo)
        stays.append(Booking(request.id, "", request.arrival, request.departure))
        within.append(columns)
        return self._lay_out(stays, within, undo, mark)

    def _retype(
        self,
        request: Request,
        columns: np.ndarray,
        undo: list[tuple[str, Booking | None]],
        origin: dict[str, str],
    ) -> bool:
        """Free the movable bookings held wholly within RETYPE_MARGINS of the stay, give them and
        the stay space types by `neighbourhood.refill` beside the bookings that stay, and lay out
        the types whose bookings changed afresh, by arrival; on failure nothing has changed."""
        board, buffer = self.board, self.board.buffer
        placed = [b for _, b in board.placed.values()]
        movable = [
            b
            for b in placed
            if self._movable(b.request_id, {request.id})
            and board.column[b.space_id] in self._movable_to(b.request_id)
        ]
        stays = [*movable, Booking(request.id, "", request.arrival, request.departure)]
        may = np.zeros((len(stays), len(self.spaces)), dtype=bool)
        for k, b in enumerate(movable):
            may[k, self._movable_to(b.request_id)] = True
        may[-1, columns] = True
        # spaces that no movable booking (nor the stay) can tell apart are one type: within a type
        # only the load matters, for stays laid out by arrival on its spaces always fit
        groups = types(self.spaces, may)
        type_of = np.empty(len(self.spaces), dtype=np.intp)
        for t, group in enumerate(groups):
            type_of[group] = t
        on = np.append(type_of[[board.column[b.space_id] for b in movable]], -1)
        every = _stays(stays, buffer, may[:, [g[0] for g in groups]], on)
        moving = {b.request_id for b in movable}
        fixed = [b for b in placed if b.request_id not in moving]
        pinned = _stays(
            fixed,
            buffer,
            np.zeros((len(fixed), len(groups)), dtype=bool),
            type_of[[board.column[b.space_id] for b in fixed]],
        )
        for margin in RETYPE_MARGINS:  # the widest window whose stays the MIP can take on
            lo, hi = request.arrival - buffer - margin, request.departure + buffer + margin
            inside = (every.lo >= lo) & (every.hi <= hi)
            if inside.sum() <= RETYPE_STAYS:
                break
        free, held = np.flatnonzero(inside), np.flatnonzero(~inside & (every.lo < hi) & (every.hi > lo))
        taken = refill(
            every.take(free),
            every.take(held).join(pinned.take(np.flatnonzero((pinned.lo < hi) & (pinned.hi > lo)))),
            np.array([len(g) for g in groups]),
            (lo, hi),
            RETYPE_SECONDS,
        )
        if taken is None or (taken < 0).any():
            return False
        target = on.copy()
        target[free] = taken
        # the types that gain a stay are laid out afresh (one that only loses keeps its layout);
        # the new stay is last, and not on the board yet
        redo = np.flatnonzero(np.isin(target, target[target != on]))
        mark = len(undo)
        for k in redo[:-1].tolist():
            origin.setdefault(stays[k].request_id, stays[k].space_id)
            self._take(stays[k].request_id, undo)
        order = sorted(redo.tolist(), key=lambda k: stays[k].arrival)
        within = {k: np.array(groups[target[k]], dtype=np.intp) for k in order}
        for k in order:
            b = stays[k]
            open_ = within[k][board.free(within[k], b.arrival, b.departure)]
            if open_.size == 0:  # a booking that keeps its space is in the way: lay out exactly
                self._rollback(undo, mark + len(redo) - 1)
                return self._lay_out([stays[k] for k in order], [within[k] for k in order], undo, mark)
            where = board.column.get(b.space_id, -1)
            j = where if where in open_ else self._best(self._request(b.request_id), open_)
            self._put(replace(b, space_id=self.spaces[j].id), undo)
        return True

    def _lay_out(
        self,
        stays: list[Booking],
        within: list[np.ndarray],
        undo: list[tuple[str, Booking | None]],
        mark: int,
    ) -> bool:
        """Put `stays` (off the board; a new one with no space) each on one of the spaces `within`
        that it may have, by `repack.assign`; on failure roll back to `mark`."""
        board = self.board
        spans = [board.cells(b.arrival, b.departure) for b in stays]
        layout = assign(
            np.array([c.start for c in spans], dtype=np.int64),
            np.array([c.stop for c in spans], dtype=np.int64),
            [t[board.free(t, b.arrival, b.departure)] for b, t in zip(stays, within, strict=True)],
            np.array([board.column.get(b.space_id, NEW) for b in stays], dtype=np.intp),
            REPACK_SECONDS,
        )
        if layout is None:
            self._rollback(undo, mark)
            return False
        for b, j in zip(stays, layout.tolist(), strict=True):
            self._put(replace(b, space_id=self.spaces[j].id), undo)
        return True

    def _near(self, request: Request) -> list[str]:
        """The movable bookings within the widest of REPACK_MARGINS around the stay where they
        could go to at most REPACK_VARIABLES (booking, space) pairs in all (the narrowest however
        many). A booking its request may not have where it is (a stay running past the engine's
        frame) stays put: the layout could not keep it there."""
        movable: list[str] = []
        for margin in REPACK_MARGINS:
            near = self.board.around(request.arrival - margin, request.departure + margin)
            movable, pairs = [], 0
            for r in near:
                if self._movable(r, {request.id}):
                    targets = self._movable_to(r)
                    if self.board.column[self.board.placed[r][1].space_id] in targets:
                        movable.append(r)
                        pairs += len(targets)
            if pairs <= REPACK_VARIABLES:
                break
        return movable

    def _forget(self, request_id: str) -> None:
        self._requests.pop(request_id, None)
        self._allowed.pop(request_id, None)
        self._targets.pop(request_id, None)
        self._bound.discard(request_id)

    def _fit(
        self,
        request: Request,
        columns: np.ndarray,
        depth: int,
        touched: set[str],
        undo: list[tuple[str, Booking | None]],
        origin: dict[str, str],
    ) -> bool:
        """Put `request` on one of `columns`, moving up to `depth` levels of bookings in its way."""
        a, d = request.arrival, request.departure
        free = columns[self.board.free(columns, a, d)]
        if free.size:
            self._put(Booking(request.id, self.spaces[self._best(request, free)].id, a, d), undo)
            return True
        if depth == 0 or self._budget <= 0:
            return False
        options = []
        scan = [
            (j, blockers)
            for j, blockers in zip(columns.tolist(), self.board.holders(columns, a, d), strict=True)
            if all(self._movable(b, touched) and b not in self._stuck for b in blockers)
        ]
        room = self._rooms({b for _, blockers in scan for b in blockers})
        for j, blockers in scan:
            direct = all(room[b] for b in blockers)
            if direct or depth > 1:
                held = sum(
                    self.board.placed[b][1].departure - self.board.placed[b][1].arrival for b in blockers
                )
                options.append((not direct, len(blockers), held, j, blockers))
        options.sort()
        for _, _, _, j, blockers in options:
            if self._budget <= 0:
                return False
            self._budget -= 1
            mark = len(undo)
            for b in blockers:
                origin.setdefault(b, self.board.placed[b][1].space_id)
                self._take(b, undo)
            self._put(Booking(request.id, self.spaces[j].id, a, d), undo)
            touched.update(blockers)
            if all(self._move(b, depth - 1, touched, undo, origin) for b in blockers):
                return True
            self._rollback(undo, mark)
            touched.difference_update(blockers)
        return False

    def _move(
        self,
        request_id: str,
        depth: int,
        touched: set[str],
        undo: list[tuple[str, Booking | None]],
        origin: dict[str, str],
    ) -> bool:
        """Put a booking taken off its space elsewhere."""
        request = self._request(request_id)
        if self._fit(request, self._movable_to(request_id), depth, touched, undo, origin):
            return True
        self._stuck.add(request_id)
        return False

    def _best(self, request: Request, free: np.ndarray) -> int:
        """The free column the stay fits tightest, amenities the driver does not need last."""
        before, after = self.board.slack(free, request.arrival, request.departure)
        needs = np.array([request.needs_charger, request.accessible, request.large])
        unneeded = (self._amenities[free] & ~needs).sum(axis=1)
        score = unneeded * (2 * self.board.state.shape[1] + 1) + before + after
        return int(free[np.argmin(score)])

    def _request(self, request_id: str) -> Request:
        found = self._requests.get(request_id)
        return self._known[request_id] if found is None else found

    def _movable(self, request_id: str, touched: set[str]) -> bool:
        if request_id in touched or request_id in self._bound:
            return False
        if request_id not in self._requests and request_id not in self._known:
            return False
        arrival = self.board.placed[request_id][1].arrival
        return self._now is None or arrival - self.bind_lead > self._now

    def _rooms(self, request_ids: set[str]) -> dict[str, bool]:
        """Whether each booking could move somewhere free as things stand (one numpy call for
        all). Bookings in the way of one stay on one space never overlap each other, so each can
        be judged on its own."""
        ids = sorted(request_ids)
        targets = [self._movable_to(r) for r in ids]
        spans = [self.board.cells(b.arrival, b.departure) for b in (self.board.placed[r][1] for r in ids)]
        sizes = np.array([len(t) for t in targets], dtype=int)
        if sizes.sum() == 0:
            return dict.fromkeys(ids, False)
        ok = self.board.free_each(
            np.concatenate(targets),
            np.repeat([c.start for c in spans], sizes),
            np.repeat([c.stop for c in spans], sizes),
        )
        found = np.zeros(len(ids), dtype=int)
        some = sizes > 0  # reduceat cannot express an empty segment
        found[some] = np.add.reduceat(ok, (np.cumsum(sizes) - sizes)[some])
        return dict(zip(ids, (found > 0).tolist(), strict=True))

    def _movable_to(self, request_id: str) -> np.ndarray:
        """The spaces the booking's request may use."""
        if request_id not in self._targets:
            allowed = self._allowed.get(request_id)
            if allowed is None:
                allowed = matrix(self.spaces, [self._request(request_id)])[0]
            self._targets[request_id] = np.flatnonzero(allowed)
        return self._targets[request_id]

    def _put(self, booking: Booking, undo: list[tuple[str, Booking | None]]) -> None:
        self.board.put(booking)
        undo.append((booking.request_id, None))

    def _take(self, request_id: str, undo: list[tuple[str, Booking | None]]) -> None:
        undo.append((request_id, self.board.take(request_id)))

    def _rollback(self, undo: list[tuple[str, Booking | None]], mark: int) -> None:
        while len(undo) > mark:
            request_id, taken = undo.pop()
            if taken is None:
                self.board.take(request_id)
            else:
                self.board.put(taken)


def allocate(
    instance: Instance,
    history: Sequence[Sequence[Request]] = (),
    *,
    repack: bool = True,
    quoted: dict[str, str] | None = None,
) -> list[Booking]:
    """The online allocator over the instance's requests, in order, all made before the day
    (so no booking is bound while the requests come in). With `history` (earlier days' requests,
    each day's in booking order) it forecasts demand and controls admission, the clock being the
    share of the requests in before each. `repack`: as for `OnlineAllocator`. `quoted`, if
    given, receives the space each request was first placed on: the driver pays its price
    wherever later moves take the booking."""
    control = admission_control(instance, history)
    allocator = OnlineAllocator(instance.spaces, instance.buffer, admission=control, repack=repack)
    allowed = matrix(instance.spaces, instance.requests)
    n = len(instance.requests)
    for i, r in enumerate(instance.requests):
        placement = allocator.place(r, allowed=allowed[i], clock=i / n if control else None)
        if placement is not None and quoted is not None:
            quoted[r.id] = placement.booking.space_id
    return list(allocator.bookings.values())


def admission_control(instance: Instance, history: Sequence[Sequence[Request]]) -> Admission | None:
    """Bid-price admission control for the instance's spaces from earlier days (None without)."""
    if not history:
        return None
    res = resources(instance.spaces, instance.buffer)
    return Admission(res, forecast(res, instance.spaces, history))


def choose(
    request: Request,
    spaces: Sequence[Space],
    bookings_by_space: Mapping[str, Sequence[Booking]],
    buffer: int = BUFFER_MINUTES,
    now: int | None = None,
    bind_lead: int = 30,
    *,
    requests: Mapping[str, Request] | None = None,
    admission: Admission | None = None,
    clock: float | None = None,
) -> Placement | None:
    """Place one request among the current bookings (the API's one-shot use). Existing bookings
    may move only if their request is in `requests` and they are not bound at `now`. With
    `admission`, the request must also be worth its space-time at `clock`."""
    allocator = current(spaces, bookings_by_space, buffer, bind_lead, requests, admission)
    return allocator.place(request, now, clock=clock)


HELD = "held_for_expected_demand"  # the reason when only admission control stood in the way
# The last check of `model.refusal` that turned spaces away, in its order; needs get driver words.
_STAGES = (
    "needs_charger",
    "needs_accessible",
    "needs_large",
    "too_far",
    "outside_availability",
    "too_expensive",
)
_WORDS = {
    "needs_charger": "no_space_with_charger",
    "needs_accessible": "no_accessible_space",
    "needs_large": "no_large_space",
}


def refusal_reason(
    request: Request,
    spaces: Sequence[Space],
    bookings_by_space: Mapping[str, Sequence[Booking]] | None = None,
    buffer: int = BUFFER_MINUTES,
) -> str:
    """Why no space takes `request`: "full" when some space could but all are booked (call it
    after `place` failed without admission control; see `HELD`), else the check that stopped the
    spaces that got furthest through `model.refusal` (charger spaces exist but are closed then:
    "outside_availability")."""
    if not spaces:
        return "no_spaces"
    reasons = [refusal(s, request) for s in spaces]
    if None in reasons:
        return "full"
    last = max((r for r in reasons if r is not None), key=_STAGES.index)
    return _WORDS.get(last, last)


def alternatives(
    request: Request,
    allocator: OnlineAllocator,
    limit: int = 3,
    *,
    now: int | None = None,
    step: int = 15,
    reach: int = 360,
    clock: float | None = None,
) -> list[tuple[int, int]]:
    """Up to `limit` stays of the same length, shifted by `step` minutes up to `reach` either way
    (nearest first, earlier before later), that `allocator` would accept now; in time order.
    Nothing changes on the allocator.

    The shifts share one search's room-making effort: a stay that fits a free space is always
    found, one that needs bookings moved only while the effort lasts. Each shift with its own
    effort made a refusal cost up to 48 searches (seconds in a full car park), where a
    booking costs one. For the same reason they skip the exact re-pack, so a stay only it could
    fit is not offered."""
    found: list[tuple[int, int]] = []
    effort = allocator.effort
    shifts = sorted(range(-(reach // step), reach // step + 1), key=lambda k: (abs(k), k))
    stays = [
        replace(request, arrival=request.arrival + k * step, departure=request.departure + k * step)
        for k in shifts
        if k != 0 and (now is None or request.arrival + k * step >= now)
    ]
    allowed = matrix(allocator.spaces, stays)  # one call for all: it was most of a refusal's time
    for shifted, may in zip(stays, allowed, strict=True):
        fits = allocator.fits(shifted, now, clock, effort=effort, allowed=may, repack=False)
        effort = allocator.effort_left
        if fits:
            found.append((shifted.arrival, shifted.departure))
            if len(found) == limit:
                break
    return sorted(found)


def _stays(bookings: Sequence[Booking], buffer: int, may: np.ndarray, on: np.ndarray) -> Stays:
    lo = np.array([b.arrival - buffer for b in bookings], dtype=np.int64)
    hi = np.array([b.departure + buffer for b in bookings], dtype=np.int64)
    return Stays(lo, hi, may, on)


def current(
    spaces: Sequence[Space],
    bookings_by_space: Mapping[str, Sequence[Booking]],
    buffer: int = BUFFER_MINUTES,
    bind_lead: int = 30,
    requests: Mapping[str, Request] | None = None,
    admission: Admission | None = None,
) -> OnlineAllocator:
    """An allocator holding the current bookings; those whose request is unknown stay put."""
    allocator = OnlineAllocator(spaces, buffer, bind_lead, admission=admission)
    allocator.add_all_existing((b for placed in bookings_by_space.values() for b in placed), requests or {})
    return allocator
