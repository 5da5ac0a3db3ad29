"""Per device and 15-minute window, the features the learned detectors score (one frame per kind).

Each kind's features describe what a healthy device of that kind does in a window, so that a model
fitted on all devices of a kind can tell a sick one apart: levels and changes of its telemetry,
counts of its events, the hour of day, and comparisons that remove what every device shares (the
weather, the time of day): a charger's temperature against the median of all chargers in the same
window, an elevator's vibration against its own trailing median. Everything is causal: a window's
features use that window and earlier ones only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analytics.rules import Frames
from core.contract.topics import Kind

WINDOW = pd.Timedelta(minutes=15)
TRAILING = 96  # windows (a day) behind a device's own baseline


def _windows(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(window=df["ts"].dt.floor(WINDOW))


def _hour(frame: pd.DataFrame) -> pd.DataFrame:
    hours = frame.index.get_level_values("window").hour + frame.index.get_level_values("window").minute / 60
    angle = 2 * np.pi * np.asarray(hours) / 24
    return frame.assign(hour_sin=np.sin(angle), hour_cos=np.cos(angle))


def _against_own_past(series: pd.Series) -> pd.Series:
    """Each window's value over the device's median of the day before it (1.0 while unknown)."""
    shifted = series.groupby(level="device_id", sort=False).shift(1)
    past = shifted.groupby(level="device_id", sort=False).rolling(TRAILING, min_periods=8).median()
    past = past.droplevel(0).reindex(series.index)
    return (series / past).replace([np.inf, -np.inf], np.nan).fillna(1.0)


def charger(frames: Frames) -> pd.DataFrame:
    tele = frames.get("ev_charger_telemetry")
    if tele is None or tele.empty:
        return pd.DataFrame()
    g = _windows(tele).groupby(["device_id", "window"])
    out = pd.DataFrame(
        {
            "temp_mean": g["temperature_c"].mean(),
            "temp_max": g["temperature_c"].max(),
            "temp_step": g["temperature_c"].last() - g["temperature_c"].first(),
            "power_mean": g["power_kw"].mean(),
            "power_max": g["power_kw"].max(),
            "energy_step": g["energy_kwh"].last() - g["energy_kwh"].first(),
            "rows": g.size(),
        }
    )
    # the energy the power readings account for, against what the register says
    out["meter_gap"] = out["energy_step"] - out["power_mean"] * (WINDOW / pd.Timedelta(hours=1))
    peers = out.groupby(level="window")["temp_mean"].transform("median")
    out["temp_over_peers"] = out["temp_mean"] - peers
    # heat the charger's own power does not explain: its excess while idle
    out["idle_temp_over_peers"] = out["temp_over_peers"].where(out["power_max"] == 0, 0.0)
    return _hour(out)


def parking_space(frames: Frames) -> pd.DataFrame:
    tele = frames.get("parking_space_telemetry")
    if tele is None or tele.empty:
        return pd.DataFrame()
    tele = _windows(tele.sort_values(["device_id", "ts"]))
    changed = tele["occupied"] != tele.groupby("device_id")["occupied"].shift(1)
    last_change = tele["ts"].where(changed).groupby(tele["device_id"]).ffill()
    tele = tele.assign(
        changed=changed.astype(float), since_change_h=(tele["ts"] - last_change).dt.total_seconds() / 3600
    )
    g = tele.groupby(["device_id", "window"])
    out = pd.DataFrame(
        {
            "rows": g.size(),
            "changes": g["changed"].sum(),
            "occupied_share": g["occupied"].mean(),
            "since_change_h": g["since_change_h"].max(),
            "battery": g["battery_pct"].mean(),
            "rssi": g["rssi_dbm"].mean(),
        }
    )
    out["occupied_share"] = out["occupied_share"].astype(float)
    # occupied when this space usually is not, at this hour on earlier days
    slot = out.index.get_level_values("window").hour
    same_hour = out.groupby([out.index.get_level_values("device_id"), slot])["occupied_share"]
    usual = (same_hour.cumsum() - out["occupied_share"]) / same_hour.cumcount()  # mean of earlier days
    out["occupied_over_usual"] = (out["occupied_share"] - usual).fillna(0.0)
    out["since_change_over_own_past"] = _against_own_past(out["since_change_h"] + 1.0)
    return _hour(out)


def parcel_locker(frames: Frames) -> pd.DataFrame:
    tele = frames.get("parcel_locker_telemetry")
    if tele is None or tele.empty:
        return pd.DataFrame()
    tele = _windows(tele.sort_values(["device_id", "ts"]))
    step = tele.groupby("device_id")["compartments_occupied"].diff().fillna(0.0)
    g = tele.assign(step=step).groupby(["device_id", "window"])
    out = pd.DataFrame(
        {
            "rows": g.size(),
            "fill": g["compartments_occupied"].mean() / g["compartments_total"].max(),
            "fill_step": g["step"].sum(),
            "temp_mean": g["temperature_c"].mean(),
        }
    )
    events = frames.get("parcel_locker_events")
    net = pd.Series(0.0, index=out.index)
    if events is not None and not events.empty:
        ev = _windows(events)
        sign = ev["event"].map({"deposit": 1.0, "pickup": -1.0}).fillna(0.0)
        by_window = ev.assign(sign=sign).groupby(["device_id", "window"])["sign"].sum()
        net = by_window.reindex(out.index, fill_value=0.0)
    # compartments the sensors say filled or emptied without a deposit or pickup to explain it
    out["unexplained_fill"] = out["fill_step"] - net
    out["temp_over_peers"] = out["temp_mean"] - out.groupby(level="window")["temp_mean"].transform("median")
    return _hour(out)


def elevator(frames: Frames) -> pd.DataFrame:
    tele = frames.get("elevator_telemetry")
    if tele is None or tele.empty:
        return pd.DataFrame()
    tele = _windows(tele)
    moving = tele["direction"] != "idle"
    g = tele.groupby(["device_id", "window"])
    out = pd.DataFrame(
        {
            "rows": g.size(),
            "moving_share": moving.groupby([tele["device_id"], tele["window"]]).mean(),
            "vibration_moving": tele["vibration_rms"]
            .where(moving)
            .groupby([tele["device_id"], tele["window"]])
            .mean(),
            "vibration_idle": tele["vibration_rms"]
            .where(~moving)
            .groupby([tele["device_id"], tele["window"]])
            .mean(),
            "load_mean": g["load_kg"].mean(),
        }
    )
    # a device's moving vibration, carried over idle windows, against its own past
    vib = out["vibration_moving"].groupby(level="device_id").ffill()
    out["vibration_over_own_past"] = _against_own_past(vib)
    events = frames.get("elevator_events")
    trips = pd.Series(0.0, index=out.index)
    if events is not None and not events.empty:
        ev = _windows(events[events["event"] == "trip"])
        trips = ev.groupby(["device_id", "window"]).size().reindex(out.index, fill_value=0).astype(float)
    out["trips"] = trips
    return _hour(out.fillna(0.0))


BY_KIND: dict[Kind, Callable[[Frames], pd.DataFrame]] = {
    Kind.EV_CHARGER: charger,
    Kind.PARKING_SPACE: parking_space,
    Kind.PARCEL_LOCKER: parcel_locker,
    Kind.ELEVATOR: elevator,
}
"""The kinds with learned detectors (gates have nothing a rule does not already watch)."""
