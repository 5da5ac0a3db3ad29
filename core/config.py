"""The one settings object: every process reads `YIJU_*` from the environment here and nowhere else."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, AnyUrl, Field, UrlConstraints, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.contract.topics import TS_MAX_FUTURE_S, TS_MAX_PAST_DAYS

MqttUrl = Annotated[AnyUrl, UrlConstraints(allowed_schemes=["mqtt"], default_port=1883)]
_RATE = r"^[0-9]+ ?(/|per) ?[0-9]* ?(second|minute|hour|day)s?$"  # limits' notation, e.g. 600/minute


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names it."""


class Settings(BaseSettings):
    """Validated configuration for every Yiju process."""

    model_config = SettingsConfigDict(env_prefix="YIJU_", extra="ignore", frozen=True)

    database_url: str = Field(description="postgresql://user@host:port/db of TimescaleDB")
    mqtt_url: MqttUrl | None = Field(None, description="mqtt://user:password@host:port (ingest)")
    mqtt_admin_url: MqttUrl | None = Field(
        None, description="mqtt:// account allowed to use the broker's dynamic-security API"
    )
    log_level: str = "INFO"

    db_pool_max: int = Field(4, ge=1, le=100)
    db_connect_timeout_s: float = Field(30.0, gt=0)

    ingest_client_id: str = Field("yiju-ingest", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    ingest_share_group: str = Field("ingest", pattern=r"^[a-z0-9-]{1,32}$")
    ingest_session_expiry_s: int = Field(7 * 24 * 3600, ge=60)
    ingest_batch_size: int = Field(2000, ge=1, le=50_000)
    ingest_batch_ms: int = Field(50, ge=1, le=10_000)
    # Unacknowledged messages the broker may have in flight to one worker: bounds its memory.
    ingest_receive_maximum: int = Field(10_000, ge=10, le=65_535)
    ingest_max_future_s: int = Field(TS_MAX_FUTURE_S, ge=0)
    ingest_max_past_days: int = Field(TS_MAX_PAST_DAYS, ge=1)
    ingest_registry_refresh_s: float = Field(30.0, gt=0)
    ingest_metrics_port: int = Field(9108, ge=0, le=65_535, description="0 disables /metrics")
    ingest_metrics_host: str = Field("127.0.0.1", description="0.0.0.0 inside a container")
    ingest_reject_payload_bytes: int = Field(2048, ge=0, le=16_384)
    ingest_replica_slots: int = Field(
        0, ge=0, le=64, description="0: one ingest process; N: a replica claiming one of N slots (compose)"
    )
    ingest_orphan_after_s: float = Field(
        300.0, ge=1, description="a session without a worker this long is drained and ended"
    )

    retention_days: int = Field(90, ge=1, description="raw telemetry and events")
    rollup_retention_days: int = Field(730, ge=1)
    maintenance_interval_s: float = Field(300.0, gt=0)
    maintenance_reorder_after_h: float = Field(
        2.0, ge=0, description="a telemetry chunk closed this long is ordered by device"
    )
    maintenance_reorder_chunks: int = Field(
        8, ge=0, le=10_000, description="chunks ordered per maintenance pass (Apache edition); 0: none"
    )

    api_host: str = Field("127.0.0.1", description="0.0.0.0 inside a container")
    api_port: int = Field(8000, ge=1, le=65_535)
    api_workers: int = Field(1, ge=1, le=32, description="uvicorn worker processes (`yiju api --workers`)")
    api_db_pool_max: int | None = Field(
        None, ge=1, le=100, description="connections per pool and worker; default `api_pool_size`"
    )
    api_cors_origins: str = Field("", description="comma-separated origins allowed by CORS")
    api_rate_limit: str = Field("600/minute", pattern=_RATE, description="per API key (limits notation)")
    api_auth_failure_limit: str = Field("30/minute", pattern=_RATE, description="bad keys per client address")
    api_max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    api_key_expiry_days: int = Field(90, ge=1, le=3650, description="default lifetime of a new key")
    api_key_cache_s: float = Field(
        60.0, ge=0, le=3600, description="how long a process remembers an authenticated key (0: never)"
    )
    api_series_max_points: int = Field(5000, ge=10, le=100_000)
    api_forwarded_allow_ips: str = Field("127.0.0.1", description="proxies trusted for X-Forwarded-For")
    api_timezone: str = Field("Asia/Shanghai", description="where KPI days and report months begin")
    api_parcel_overdue_hours: int = Field(48, ge=1, le=24 * 30)

    parking_no_show_grace_min: int = Field(20, ge=1, le=24 * 60, description="no check-in by then: no-show")
    parking_bind_lead_min: int = Field(30, ge=0, le=24 * 60, description="a booking's space is fixed then")
    parking_booking_attempts: int = Field(5, ge=1, le=50, description="choices tried when racing for space")
    parking_max_stay_hours: int = Field(72, ge=1, le=24 * 31)
    parking_max_advance_days: int = Field(30, ge=1, le=366, description="how far ahead one may book")
    parking_tick_interval_s: float = Field(60.0, gt=0, description="`yiju parking tick --every`")
    # Drivers served by the online allocator on generated days (2,000 requests, seeds 1-3) with 4
    # and 8 earlier days: d/s 1.0 4,243 -> 4,270 (6: 4,268, 12: 4,278), 1.5 3,103 -> 3,118, 0.8
    # 4,719 -> 4,710; 10,000 requests, seed 2: 5,058 -> 5,064 (12: 5,055). The LPs take twice as long.
    parking_forecast_weeks: int = Field(
        8, ge=0, le=52, description="weeks of bookings and refusals admission control forecasts from (0: off)"
    )
    parking_admission_step_min: int = Field(
        15, ge=1, le=24 * 60, description="how often admission control's bid prices are re-solved"
    )

    grafana_url: str | None = Field(None, description="http(s)://host:port of a running Grafana (sync)")
    grafana_token: str | None = Field(None, description="Grafana service-account token (Editor or Admin)")
    grafana_database_url: str | None = Field(
        None, description="postgresql:// as Grafana reaches TimescaleDB (read-only role) [database_url]"
    )

    analytics_fast_interval_s: float = Field(1.0, gt=0, le=60, description="fault events and statuses")
    analytics_slow_interval_s: float = Field(60.0, gt=0, description="telemetry rules and heartbeats")
    analytics_slow_window_s: float = Field(2 * 3600.0, gt=0, description="the slow cycle's window of data")
    analytics_quiet_clear_s: float = Field(3600.0, gt=0, description="self-clearing alarms clear after")
    analytics_reread_s: float = Field(
        60.0, ge=0, description="cycles ask again for rows stored this long before their last read"
    )
    analytics_learned_interval_s: float = Field(
        900.0, gt=0, description="learned detectors score the windows closed since their last cycle"
    )
    analytics_learned_context_s: float = Field(
        6 * 3600.0, gt=0, description="data a learned cycle sees before its windows (trailing features)"
    )
    analytics_learned_refit_s: float = Field(
        6 * 3600.0, gt=0, description="learned models are refitted after"
    )
    analytics_learned_history_s: float = Field(
        24 * 3600.0, gt=0, description="history the learned models are fitted on"
    )
    analytics_learned_sample: int = Field(
        500, ge=10, description="devices per kind whose history the models are fitted on"
    )

    # `yiju notify`: critical alarms opened, acknowledged or cleared, announced on
    # community/<id>/alarms/critical (QoS 1) and to a webhook.
    notify_mqtt_url: MqttUrl | None = Field(
        None, description="mqtt:// account the notifier publishes with; unset: not on MQTT"
    )
    notify_webhook_url: AnyHttpUrl | None = Field(
        None, description="the same announcements are POSTed here as JSON; unset or empty: no webhook"
    )
    notify_timeout_s: float = Field(5.0, gt=0, le=60, description="per delivery attempt")
    notify_max_age_s: float = Field(
        3600.0, ge=10, description="an announcement not delivered by then is skipped, not sent late"
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("notify_webhook_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # docker compose passes an unset ${VAR:-} as ""

    @field_validator("api_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def api_pool_size(self) -> int:
        """Connections per pool and API worker: YIJU_API_DB_POOL_MAX, by default two per core
        across the workers (at least 2). More connections than the cores can serve only queue
        inside PostgreSQL and the scheduler: at 50 clients on 2 cores and 2 workers, 25 per
        worker gave latest-state p99 120 ms and 2 gave 49-65 ms (`yiju bench api`)."""
        if self.api_db_pool_max is not None:
            return self.api_db_pool_max
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(2, 2 * cores // self.api_workers)

    def require_mqtt(self) -> AnyUrl:
        """The ingest account's broker URL, or a clear error when it is not set."""
        if self.mqtt_url is None:
            raise SettingsError("YIJU_MQTT_URL is not set (mqtt://user:password@host:port)")
        return self.mqtt_url

    def require_mqtt_admin(self) -> AnyUrl:
        """The broker admin account's URL, or a clear error when it is not set."""
        if self.mqtt_admin_url is None:
            raise SettingsError("YIJU_MQTT_ADMIN_URL is not set (mqtt://user:password@host:port)")
        return self.mqtt_admin_url

    def to_env(self, **overrides: object) -> dict[str, str]:
        """The environment of a child process that rebuilds these settings (with `overrides`)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("YIJU_")}
        values = self.model_dump() | overrides
        env.update({f"YIJU_{k.upper()}": str(v) for k, v in values.items() if v is not None})
        return env


def _explain(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        name = "YIJU_" + "_".join(str(part) for part in item["loc"]).upper()
        lines.append(f"{name}: {item['msg']}")
    return "invalid settings: " + "; ".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Build the settings once per process, failing with a readable message."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as error:
        raise SettingsError(_explain(error)) from None
