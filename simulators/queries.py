"""SQL of the simulators (the ground-truth labels table)."""

from __future__ import annotations

from typing import Final


class SIMULATORS:
    """Fault labels of simulator runs."""

    delete_labels: Final = "DELETE FROM fault_labels WHERE run_id = %s"
    copy_labels: Final = """
        COPY fault_labels (run_id, device_id, kind, fault_type, started_at, ended_at, silent, detail)
        FROM STDIN"""
