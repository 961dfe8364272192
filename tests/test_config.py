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
