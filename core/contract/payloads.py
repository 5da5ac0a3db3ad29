"""Contract v1 payloads: the one definition of what each kind sends on each channel.

msgspec validates while it decodes (about 1 µs a message), which keeps ingest close to the
raw MQTT ceiling; its JSON Schema export publishes the same definition to device vendors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from core.contract.topics import Channel, Kind

Ts = Annotated[datetime, Meta(tz=True, description="RFC 3339 time with offset")]
Seq = Annotated[
    int,
    Meta(
        ge=0,
        le=2**63 - 1,
        description="one counter per device across all channels, increasing within a boot",
    ),
]
Boot = Annotated[int, Meta(ge=0, le=2**31 - 1, description="reboot counter")]
# `(?!\n)$`: Python's `$` also matches before a final newline; ECMAScript validators do not.
_PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*(?!\n)$"
Label = Annotated[str, Meta(min_length=1, max_length=64, pattern=_PRINTABLE)]
Compartment = Annotated[int, Meta(ge=0, le=9999)]
Floor = Annotated[int, Meta(ge=-10, le=200)]
TemperatureC = Annotated[float, Meta(ge=-60, le=200)]


class Envelope(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Fields every message carries."""

    ts: Ts
    seq: Seq
    boot: Boot = 0


# --- status (retained; also each device's MQTT last will) --------------------------------------


class DeviceStatus(Envelope):
    """Online/offline state and firmware."""

    state: Literal["online", "offline"]
    firmware: Annotated[str, Meta(max_length=64, pattern=_PRINTABLE)] = ""


# --- EV charger ---------------------------------------------------------------------------------

OcppStatus = Literal[
    "Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV",
    "Finishing", "Reserved", "Unavailable", "Faulted",
]  # fmt: skip
OcppErrorCode = Literal[
    "ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature",
    "InternalError", "LocalListConflict", "OtherError", "OverCurrentFailure", "OverVoltage",
    "PowerMeterFailure", "PowerSwitchFailure", "ReaderFailure", "ResetFailure", "UnderVoltage",
    "WeakSignal",
]  # fmt: skip


class ChargerTelemetry(Envelope):
    """OCPP 1.6 status and meter values."""

    status: OcppStatus
    power_kw: Annotated[float, Meta(ge=0, le=1000)]
    energy_kwh: Annotated[float, Meta(ge=0, le=1e9, description="meter register")]
    current_a: Annotated[float, Meta(ge=0, le=2000)]
    voltage_v: Annotated[float, Meta(ge=0, le=2000)]
    temperature_c: TemperatureC
    soc_pct: Annotated[float, Meta(ge=0, le=100)] | None = None


class SessionStart(Envelope, tag_field="event", tag="session_start"):
    """A car starts charging."""

    session_id: Label
    id_tag: Label | None = None


class SessionStop(Envelope, tag_field="event", tag="session_stop"):
    """A charging session ends."""

    session_id: Label
    energy_kwh: Annotated[float, Meta(ge=0, le=1000, description="delivered in the session")]


class ChargerFault(Envelope, tag_field="event", tag="fault"):
    """A charger fault begins."""

    code: OcppErrorCode


class ChargerFaultCleared(Envelope, tag_field="event", tag="fault_cleared"):
    """A charger fault ends."""

    code: OcppErrorCode


# --- parking --------------------------------------------------------------------------------


class SpaceTelemetry(Envelope):
    """A per-space occupancy sensor."""

    occupied: bool
    battery_pct: Annotated[float, Meta(ge=0, le=100)]
    rssi_dbm: Annotated[float, Meta(ge=-150, le=0)] | None = None


class GateTelemetry(Envelope):
    """A gate barrier's state."""

    barrier: Literal["open", "closed"]


class GatePassage(Envelope, tag_field="event", tag="passage"):
    """A vehicle passes the gate camera."""

    direction: Literal["in", "out"]
    plate_hash: Annotated[str, Meta(pattern=r"^[0-9a-f]{16,128}(?!\n)$")]
    lane: Annotated[int, Meta(ge=0, le=99)]


GateFaultCode = Literal["camera_fault", "barrier_fault", "loop_detector_fault", "power_loss"]


class GateFault(Envelope, tag_field="event", tag="fault"):
    """A gate fault begins."""

    code: GateFaultCode


class GateFaultCleared(Envelope, tag_field="event", tag="fault_cleared"):
    """A gate fault ends."""

    code: GateFaultCode


# --- parcel locker -------------------------------------------------------------------------


class LockerTelemetry(Envelope):
    """A locker bank's fill and temperature."""

    compartments_total: Annotated[int, Meta(ge=1, le=9999)]
    compartments_occupied: Annotated[int, Meta(ge=0, le=9999)]
    temperature_c: TemperatureC

    def __post_init__(self) -> None:
        """compartments_occupied must not exceed compartments_total."""
        if self.compartments_occupied > self.compartments_total:
            raise ValueError("compartments_occupied exceeds compartments_total")


class _CompartmentEvent(Envelope):
    compartment: Compartment


class Deposit(_CompartmentEvent, tag_field="event", tag="deposit"):
    """A courier puts a parcel in."""

    parcel_id: Label | None = None


class Pickup(_CompartmentEvent, tag_field="event", tag="pickup"):
    """A resident takes a parcel out."""

    parcel_id: Label | None = None


class DoorOpen(_CompartmentEvent, tag_field="event", tag="door_open"):
    """A compartment door opens."""


class DoorClosed(_CompartmentEvent, tag_field="event", tag="door_closed"):
    """A compartment door closes."""


class DoorLeftOpen(_CompartmentEvent, tag_field="event", tag="door_left_open"):
    """A compartment door stays open past the locker's own limit."""

    open_s: Annotated[int, Meta(ge=0, le=10**7)] | None = None


LockerFaultCode = Literal["sensor_fault", "lock_fault", "forced_open", "code_lockout", "power_loss"]


class LockerFault(_CompartmentEvent, tag_field="event", tag="fault"):
    """A compartment fault."""

    code: LockerFaultCode


# --- elevator (GB/T 24476 running status and faults) ------------------------------------------------

ElevatorFaultType = Literal[
    "entrapment", "stop_outside_door_zone", "overrun_top", "overrun_bottom", "door_open_moving",
    "overspeed", "power_loss", "abnormal_vibration", "repeated_door_cycling", "alarm_button",
]  # fmt: skip


class ElevatorTelemetry(Envelope):
    """Running status of a retrofitted elevator."""

    floor: Floor
    direction: Literal["up", "down", "idle"]
    door: Literal["open", "closed"]
    speed_mps: Annotated[float, Meta(ge=0, le=20)]
    load_kg: Annotated[float, Meta(ge=0, le=10_000)]
    vibration_rms: Annotated[float, Meta(ge=0, le=100, description="car vibration RMS in m/s²")]
    mode: Literal["normal", "inspection", "fire", "locked", "overload"]


class Trip(Envelope, tag_field="event", tag="trip"):
    """One trip between floors."""

    from_floor: Floor
    to_floor: Floor


class ElevatorFault(Envelope, tag_field="event", tag="fault"):
    """An elevator fault begins; entrapment is life-safety."""

    fault: ElevatorFaultType


class ElevatorFaultCleared(Envelope, tag_field="event", tag="fault_cleared"):
    """An elevator fault ends."""

    fault: ElevatorFaultType


# --- what analytics announces (not a device payload: no envelope, not in PAYLOADS) -------------


class AlarmNotice(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A critical alarm opened or cleared, published on `alarm_topic` (and POSTed to the webhook)."""

    id: Annotated[int, Meta(ge=1, description="the alarm's id in the API (/v1/alarms)")]
    community_id: str
    device_id: str
    type: str
    severity: Literal["critical", "major", "minor", "warning"]
    status: Literal["active-unacknowledged", "active-acknowledged", "cleared"]
    first_seen: Ts
    cleared_at: Ts | None = None
    explanation: str = ""


# --- the map every consumer reads ------------------------------------------------------------------

ChargerEvent = SessionStart | SessionStop | ChargerFault | ChargerFaultCleared
GateEvent = GatePassage | GateFault | GateFaultCleared
LockerEvent = Deposit | Pickup | DoorOpen | DoorClosed | DoorLeftOpen | LockerFault
ElevatorEvent = Trip | ElevatorFault | ElevatorFaultCleared

PAYLOADS: dict[tuple[Kind, Channel], object] = {
    (Kind.EV_CHARGER, Channel.TELEMETRY): ChargerTelemetry,
    (Kind.EV_CHARGER, Channel.EVENT): ChargerEvent,
    (Kind.PARKING_SPACE, Channel.TELEMETRY): SpaceTelemetry,
    (Kind.PARKING_GATE, Channel.TELEMETRY): GateTelemetry,
    (Kind.PARKING_GATE, Channel.EVENT): GateEvent,
    (Kind.PARCEL_LOCKER, Channel.TELEMETRY): LockerTelemetry,
    (Kind.PARCEL_LOCKER, Channel.EVENT): LockerEvent,
    (Kind.ELEVATOR, Channel.TELEMETRY): ElevatorTelemetry,
    (Kind.ELEVATOR, Channel.EVENT): ElevatorEvent,
    **{(kind, Channel.STATUS): DeviceStatus for kind in Kind},
}
"""Payload type per (kind, channel); a pair that is missing has no messages in v1."""


def members(payload_type: object) -> tuple[type[Envelope], ...]:
    """The Struct classes a payload type admits (one, or each member of an event union)."""
    args = getattr(payload_type, "__args__", None)
    return tuple(args) if args else (payload_type,)  # type: ignore[return-value]


def event_name(struct: type[Envelope]) -> str | None:
    """The `event` tag of an event payload type, None for telemetry and status."""
    tag = struct.__struct_config__.tag
    return tag if isinstance(tag, str) else None
