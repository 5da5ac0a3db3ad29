"""Settings come from YIJU_* only, and a missing or bad one fails with its name in the message."""

from __future__ import annotations

import os

import pytest

from core.config import Settings, SettingsError, get_settings


def test_missing_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YIJU_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="YIJU_DATABASE_URL: Field required"):
        get_settings()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "YIJU_DATABASE_URL",
            "mysql://x@y/z",
            "YIJU_DATABASE_URL: Value error, must start with postgresql://",
        ),
        ("YIJU_MQTT_URL", "http://u:p@h:1883", "YIJU_MQTT_URL: URL scheme should be 'mqtt'"),
        ("YIJU_INGEST_BATCH_SIZE", "0", "YIJU_INGEST_BATCH_SIZE: Input should be greater than or equal to 1"),
        (
            "YIJU_NOTIFY_WEBHOOK_URL",
            "ftp://ops.example.org/hook",
            "YIJU_NOTIFY_WEBHOOK_URL: URL scheme should be 'http' or 'https'",
        ),
    ],
)
def test_invalid_values_are_explained(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv("YIJU_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        get_settings()
    get_settings.cache_clear()


def test_mqtt_url_parts_and_require(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIJU_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.delenv("YIJU_MQTT_URL", raising=False)
    settings = Settings()  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="YIJU_MQTT_URL is not set"):
        settings.require_mqtt()
    parsed = Settings(mqtt_url="mqtt://ingest:s3cret@broker").require_mqtt()  # type: ignore[call-arg, arg-type]
    assert (parsed.username, parsed.password, parsed.host, parsed.port) == (
        "ingest",
        "s3cret",
        "broker",
        1883,
    )


def test_to_env_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIJU_DATABASE_URL", "postgresql://u@h/db")
    settings = Settings(ingest_batch_size=77)  # type: ignore[call-arg]
    env = settings.to_env(ingest_metrics_port=0)
    for key in list(env):
        if key.startswith("YIJU_"):
            monkeypatch.setenv(key, env[key])
    rebuilt = Settings()  # type: ignore[call-arg]
    assert rebuilt.ingest_batch_size == 77 and rebuilt.ingest_metrics_port == 0
    assert rebuilt.model_copy(update={"ingest_metrics_port": settings.ingest_metrics_port}) == settings


def test_an_empty_webhook_url_means_no_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIJU_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("YIJU_NOTIFY_WEBHOOK_URL", "")
    assert Settings().notify_webhook_url is None  # type: ignore[call-arg]


def test_the_api_pool_is_two_connections_per_core_across_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIJU_DATABASE_URL", "postgresql://x@h/db")
    cores = len(os.sched_getaffinity(0))
    assert Settings(api_workers=1).api_pool_size == max(2, 2 * cores)  # type: ignore[call-arg]
    assert Settings(api_workers=32).api_pool_size == 2  # type: ignore[call-arg]
    assert Settings(api_workers=32, api_db_pool_max=7).api_pool_size == 7  # type: ignore[call-arg]
