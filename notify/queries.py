"""SQL of the notifier: the outbox the database fills (migration 0012) and each sink's cursor."""

from __future__ import annotations

from typing import Final


class NOTIFY:
    """Reading the outbox in order, moving cursors, pruning."""

    listen: Final = "LISTEN yiju_alarm_notices"
    # a sink seen for the first time starts with the recent past, not with every alarm ever raised
    start_cursor: Final = """
        INSERT INTO notify_cursors (sink, last_seq)
        SELECT %(sink)s, coalesce(max(seq), 0)
        FROM alarm_notices WHERE created_at < now() - make_interval(secs => %(back_s)s)
        ON CONFLICT (sink) DO NOTHING"""
    cursor: Final = "SELECT last_seq FROM notify_cursors WHERE sink = %(sink)s"
    after: Final = """
        SELECT seq, created_at, alarm_id, community_id, device_id, type, severity, status, first_seen,
            cleared_at, explanation
        FROM alarm_notices WHERE seq > %(seq)s ORDER BY seq LIMIT %(limit)s"""
    move: Final = "UPDATE notify_cursors SET last_seq = %(seq)s, moved_at = now() WHERE sink = %(sink)s"
    prune: Final = "DELETE FROM alarm_notices WHERE created_at < now() - make_interval(days => %(days)s)"
