"""SQL of `yiju bench api`: the bench database's history, filled inside PostgreSQL."""

from __future__ import annotations

from typing import Final


class API_BENCH:
    """A dedicated database with N devices and D days of one-a-minute telemetry."""

    create_database: Final = "CREATE DATABASE {}"
    database_exists: Final = "SELECT 1 FROM pg_database WHERE datname = %s"
    create_meta: Final = """
        CREATE TABLE IF NOT EXISTS bench_api_meta (
            devices integer NOT NULL, days integer NOT NULL, interval_s integer NOT NULL,
            history_end timestamptz NOT NULL, filled_at timestamptz NOT NULL DEFAULT now())"""
    meta: Final = "SELECT devices, days, interval_s, history_end FROM bench_api_meta"
    clear_meta: Final = "DELETE FROM bench_api_meta"
    record_meta: Final = (
        "INSERT INTO bench_api_meta (devices, days, interval_s, history_end) VALUES (%s, %s, %s, %s)"
    )
    devices: Final = "SELECT id, kind FROM devices WHERE community_id LIKE 'bench-api-%' ORDER BY id"
    # One day of one kind for every device of the kind; `n` counts samples since 1970.
    fill: Final = """
        INSERT INTO {table} ({columns})
        SELECT d.id, g.ts, 0, g.n, {values}
        FROM devices d
        CROSS JOIN LATERAL (
            SELECT ts, extract(epoch FROM ts)::bigint / %(step_s)s AS n
            FROM generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz - make_interval(secs => %(step_s)s),
                                 make_interval(secs => %(step_s)s)) AS ts
        ) AS g
        WHERE d.kind = %(kind)s AND d.community_id LIKE 'bench-api-%%'"""
    status: Final = """
        INSERT INTO device_status (device_id, ts, boot, seq, state, firmware)
        SELECT id, %(at)s, 0, 0, 'online', '1.0.0' FROM devices WHERE community_id LIKE 'bench-api-%%'"""
    analyze: Final = "ANALYZE"
    checkpoint: Final = "CHECKPOINT"  # every dirty page written out before the load starts
    # The history's chunks and their indexes read into the OS cache (MB read), so that a run
    # measures the API rather than whatever the machine last evicted (pg_prewarm ships with PostgreSQL).
    prewarm_extension: Final = "CREATE EXTENSION IF NOT EXISTS pg_prewarm"
    prewarm: Final = """
        SELECT coalesce(sum(pg_prewarm(c.oid, 'read')), 0) * current_setting('block_size')::bigint / 1e6
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = '_timescaledb_internal' AND c.relkind IN ('r', 'i')"""


FILL_VALUES: Final = {
    # kind: (columns after device_id, ts, boot, seq; their values as SQL over g.n) -- constants
    "ev_charger": (
        ("status", "power_kw", "energy_kwh", "current_a", "voltage_v", "temperature_c"),
        "CASE WHEN g.n %% 240 < 60 THEN 'Charging' ELSE 'Available' END,"
        " CASE WHEN g.n %% 240 < 60 THEN 7.0 ELSE 0.0 END, (g.n %% 1000000) * 0.03,"
        " CASE WHEN g.n %% 240 < 60 THEN 30.0 ELSE 0.0 END, 230.0, 25 + 5 * sin(g.n / 100.0)",
    ),
    "parking_space": (("occupied", "battery_pct", "rssi_dbm"), "(g.n / 97) %% 2 = 0, 80.0, -70.0"),
    "parcel_locker": (
        ("compartments_total", "compartments_occupied", "temperature_c"),
        "40, (g.n / 60) %% 40, 20.0",
    ),
    "elevator": (
        ("floor", "direction", "door", "speed_mps", "load_kg", "vibration_rms", "mode"),
        "(g.n %% 7)::int, CASE WHEN g.n %% 3 = 0 THEN 'up' ELSE 'idle' END, 'closed', 1.0, 75.0,"
        " 0.1 + 0.05 * abs(sin(g.n)), 'normal'",
    ),
}
SERIES_FIELD: Final = {
    "ev_charger": "power_kw",
    "parking_space": "occupied",
    "parcel_locker": "compartments_occupied",
    "elevator": "vibration_rms",
}
