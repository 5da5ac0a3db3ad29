"""Valid contract-v1 payloads for one device, with its own seq counter (seeded, deterministic)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Literal, TypedDict

from core.contract import payloads as p
from core.contract.codec import encode
from core.contract.topics import Channel, Kind

_OCPP: tuple[p.OcppStatus, ...] = ("Available", "Preparing", "Charging", "SuspendedEV", "Finishing")
_ELEVATOR_FAULTS: tuple[p.ElevatorFaultType, ...] = (
    "entrapment",
    "door_open_moving",
    "stop_outside_door_zone",
    "alarm_button",
)


class _Common(TypedDict):
    ts: datetime
    seq: int
    boot: int


class MessageFactory:
    """Builds the next message of a device: plausible values, always within the contract."""

    def __init__(self, kind: Kind, *, seed: int = 0, boot: int = 0) -> None:
        self.kind = kind
        self.boot = boot
        self.seq = 0
        self._rng = random.Random(seed)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def telemetry(self, ts: datetime | None = None) -> p.Envelope:
        """The device's periodic telemetry."""
        ts = ts or datetime.now(UTC)
        r = self._rng
        common = _Common(ts=ts, seq=self._next_seq(), boot=self.boot)
        if self.kind is Kind.EV_CHARGER:
            power = r.choice((0.0, r.uniform(3, 7.2)))
            return p.ChargerTelemetry(
                **common, status="Charging" if power else r.choice(_OCPP), power_kw=round(power, 3),
                energy_kwh=round(1000 + self.seq * 0.1, 3), current_a=round(power * 4.35, 2),
                voltage_v=round(r.uniform(215, 235), 1), temperature_c=round(r.uniform(20, 45), 1),
            )  # fmt: skip
        if self.kind is Kind.PARKING_SPACE:
            return p.SpaceTelemetry(
                **common, occupied=r.random() < 0.5, battery_pct=round(r.uniform(20, 100), 1)
            )
        if self.kind is Kind.PARKING_GATE:
            return p.GateTelemetry(**common, barrier=r.choice(("open", "closed")))
        if self.kind is Kind.PARCEL_LOCKER:
            return p.LockerTelemetry(
                **common, compartments_total=48, compartments_occupied=r.randint(0, 48),
                temperature_c=round(r.uniform(5, 35), 1),
            )  # fmt: skip
        moving = r.random() < 0.3
        return p.ElevatorTelemetry(
            **common, floor=r.randint(1, 7), direction=r.choice(("up", "down")) if moving else "idle",
            door="closed" if moving else r.choice(("open", "closed")), speed_mps=1.0 if moving else 0.0,
            load_kg=round(r.uniform(0, 600), 1), vibration_rms=round(r.uniform(0.05, 0.4), 3), mode="normal",
        )  # fmt: skip

    def event(self, ts: datetime | None = None) -> p.Envelope | None:
        """One typical event of the device, or None for kinds without events."""
        ts = ts or datetime.now(UTC)
        r = self._rng
        common = _Common(ts=ts, seq=self._next_seq(), boot=self.boot)
        if self.kind is Kind.EV_CHARGER:
            return p.SessionStop(**common, session_id=f"s{self.seq}", energy_kwh=round(r.uniform(1, 40), 2))
        if self.kind is Kind.PARKING_GATE:
            return p.GatePassage(
                **common, direction=r.choice(("in", "out")), plate_hash=f"{r.getrandbits(64):016x}",
                lane=r.randint(0, 1),
            )  # fmt: skip
        if self.kind is Kind.PARCEL_LOCKER:
            return p.Deposit(**common, compartment=r.randint(0, 47), parcel_id=f"p{self.seq}")
        if self.kind is Kind.ELEVATOR:
            if r.random() < 0.05:
                return p.ElevatorFault(**common, fault=r.choice(_ELEVATOR_FAULTS))
            return p.Trip(**common, from_floor=r.randint(1, 7), to_floor=r.randint(1, 7))
        self.seq -= 1
        return None

    def status(
        self, state: Literal["online", "offline"] = "online", ts: datetime | None = None
    ) -> p.DeviceStatus:
        """An online/offline status message."""
        return p.DeviceStatus(
            ts=ts or datetime.now(UTC), seq=self._next_seq(), boot=self.boot, state=state, firmware="1.4.2"
        )

    def mixed(self, ts: datetime | None = None, event_share: float = 0.1) -> tuple[Channel, bytes]:
        """Mostly telemetry, sometimes an event: the channel and the encoded payload."""
        if self._rng.random() < event_share:
            event = self.event(ts)
            if event is not None:
                return Channel.EVENT, encode(event)
        return Channel.TELEMETRY, encode(self.telemetry(ts))
