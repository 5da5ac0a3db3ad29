"""Every dashboard, by folder: the builders whose output is `grafana/dashboards/`."""

from __future__ import annotations

from collections.abc import Callable

from grafana.boards import facilities, operations, overview
from grafana.builder import Json

FOLDERS: dict[str, tuple[Callable[[], Json], ...]] = {
    "Overview": (overview.city, overview.community),
    "Facilities": (
        facilities.ev_charging,
        facilities.parking,
        facilities.parcel_lockers,
        facilities.elevators,
    ),
    "Operations": (operations.alarms, operations.platform),
}
