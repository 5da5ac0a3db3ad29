"""The hypertables' columns are exactly the contract's fields (plus ingest bookkeeping)."""

from __future__ import annotations

import psycopg
import pytest

from core.db.tables import DEVICE_TABLES

TABLES = sorted({(t.name, t.columns) for t in DEVICE_TABLES.values()})


@pytest.mark.parametrize(("table", "columns"), TABLES, ids=[t for t, _ in TABLES])
def test_table_columns_match_contract(conn: psycopg.Connection, table: str, columns: tuple[str, ...]) -> None:
    query = "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
    found = {r[0] for r in conn.execute(query, (table,)).fetchall()}
    assert found == {*columns, "ingested_at"}
