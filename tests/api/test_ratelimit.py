"""The moving windows of the rate limits: exact over any period, not per calendar window."""

from __future__ import annotations

import time

from api.ratelimit import MovingWindow


def test_a_name_gets_its_amount_per_period_and_then_waits_for_its_oldest_hit() -> None:
    window = MovingWindow("3/second")
    assert [window.hit("k") for _ in range(4)] == [True, True, True, False]
    assert window.hit("other")  # each name counts alone
    assert not window.allows("k") and 0.5 < window.retry_after("k") <= 1.0
    time.sleep(1.05)
    assert window.allows("k") and window.retry_after("k") == 0.0
    assert [window.hit("k") for _ in range(4)] == [True, True, True, False]


def test_the_limit_holds_over_any_period_not_only_whole_windows() -> None:
    window = MovingWindow("4/second")
    assert window.hit("k") and window.hit("k")
    time.sleep(0.6)
    assert window.hit("k") and window.hit("k") and not window.hit("k")
    time.sleep(0.5)  # the first two have left the last second, the last two have not
    assert window.hit("k") and window.hit("k") and not window.hit("k")


def test_a_refused_hit_is_not_counted_and_idle_names_are_swept() -> None:
    window = MovingWindow("1/second")
    assert window.hit("a") and not window.hit("a") and not window.hit("a")
    time.sleep(1.05)
    assert window.hit("a")  # the refused hits did not extend the wait
    time.sleep(1.05)
    window.hit("b")  # a hit after a whole period sweeps names nobody hit within it
    assert window.allows("a") and "a" not in window._hits
