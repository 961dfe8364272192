"""Settings: a bad clustering configuration is refused when the app starts, not at the first
re-clustering run, and each is read from the name the README gives."""

from __future__ import annotations

import pydantic
import pytest

from kanta.config import Settings


def test_cluster_eps_must_be_under_the_cap(monkeypatch):
    monkeypatch.setenv("KANTA_CLUSTER_EPS", "0.6")
    monkeypatch.setenv("KANTA_CLUSTER_CAP", "0.6")
    with pytest.raises(pydantic.ValidationError, match="KANTA_CLUSTER_EPS .* must be under KANTA_CLUSTER_CAP"):
        Settings()
    monkeypatch.setenv("KANTA_CLUSTER_CAP", "0.65")
    assert Settings().cluster_eps == 0.6


@pytest.mark.parametrize("url", ["photos.example.com", "ftp://photos.example.com", "https://photos.example.com/?a=1",
                                 "https://photos.example.com/#t", "https://", "https://a b"])
def test_the_public_url_is_an_http_url_without_query_or_fragment(monkeypatch, url):
    monkeypatch.setenv("KANTA_PUBLIC_URL", url)
    with pytest.raises(pydantic.ValidationError):
        Settings()


@pytest.mark.parametrize("url", ["", "https://photos.example.com", "http://127.0.0.1:7071", "https://example.com/kanta/"])
def test_public_urls_kanta_takes(monkeypatch, url):
    monkeypatch.setenv("KANTA_PUBLIC_URL", url)
    assert Settings().public_url == url


@pytest.mark.parametrize("name", ["KANTA_GUEST_UPLOADS_PER_HOUR", "KANTA_GUEST_SEARCHES_PER_HOUR",
                                  "KANTA_GUEST_FORGETS_PER_HOUR", "KANTA_GUEST_UPLOADS_PER_EVENT_DAY"])
def test_guest_caps_are_at_least_one(monkeypatch, name):
    monkeypatch.setenv(name, "0")
    with pytest.raises(pydantic.ValidationError):
        Settings()


def test_every_setting_is_kanta_and_its_field_name(monkeypatch):
    """An operator reads the names in the README's table: each field is read from KANTA_<FIELD>
    (any case), the storage connection and the timer schedule from the names their bindings use."""
    monkeypatch.setenv("kanta_detection_profile", "fast")
    monkeypatch.setenv("KANTA_GUEST_BYTES_PER_HOUR", "123")
    monkeypatch.setenv("KANTA_STORAGE", "UseDevelopmentStorage=true")
    monkeypatch.setenv("KANTA_RECLUSTER_SCHEDULE", "0 0 * * * *")
    settings = Settings()
    assert (settings.detection_profile, settings.guest_bytes_per_hour) == ("fast", 123)
    assert settings.storage_connection_string == "UseDevelopmentStorage=true"
    assert settings.recluster_schedule == "0 0 * * * *"


@pytest.mark.parametrize(("field", "former", "current"), [
    ("db_pool_timeout_s", "KANTA_DB_POOL_TIMEOUT", "KANTA_DB_POOL_TIMEOUT_S"),
    ("db_pool_max_lifetime_s", "KANTA_DB_POOL_MAX_LIFETIME", "KANTA_DB_POOL_MAX_LIFETIME_S"),
    ("upload_url_ttl_s", "KANTA_UPLOAD_URL_TTL", "KANTA_UPLOAD_URL_TTL_S"),
    ("read_url_ttl_s", "KANTA_READ_URL_TTL", "KANTA_READ_URL_TTL_S"),
    ("max_face_yaw_deg", "KANTA_MAX_FACE_YAW", "KANTA_MAX_FACE_YAW_DEG"),
])
def test_names_with_their_unit_win_over_the_former_names_which_still_work(monkeypatch, field, former, current):
    monkeypatch.delenv(current, raising=False)  # the test session sets some
    monkeypatch.setenv(former, "30")
    assert getattr(Settings(), field) == 30
    monkeypatch.setenv(current, "40")
    assert getattr(Settings(), field) == 40
