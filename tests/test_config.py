"""Settings: a bad clustering configuration is refused when the app starts, not at the first
re-clustering run."""

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
