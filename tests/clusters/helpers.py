"""Synthetic descriptors for the clustering tests (tests/clusters and tests/bench): people
whose faces sit about as far apart as dlib's do."""

from __future__ import annotations

import numpy as np

from kanta.faces import DESCRIPTOR_DIM


def people(seed: int = 0, n_people: int = 6, faces: int = 8, loners: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors like dlib's: people about 1.0 apart, a person's faces about 0.3 apart;
    plus ``loners`` guests seen once. Returns ``(x, who)``, ``who`` = -1 for a loner."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_people + loners, DESCRIPTOR_DIM)) * (1.0 / np.sqrt(2 * DESCRIPTOR_DIM))
    who = np.repeat(np.arange(n_people), faces)
    x = centres[who] + rng.standard_normal((len(who), DESCRIPTOR_DIM)) * (0.3 / np.sqrt(2 * DESCRIPTOR_DIM))
    x = np.vstack([x, centres[n_people:]])
    who = np.concatenate([who, np.full(loners, -1)])
    order = rng.permutation(len(who))  # people's faces interleaved, as uploads arrive
    return x[order], who[order]


def lumpy_people(seed: int, n_people: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """People of 1-60 faces whose distances overlap like real dlib descriptors do (same
    person mostly 0.3-0.7 apart, different people 0.6-1.0), so that merges happen at every
    level and some people sit near the threshold."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 60, n_people)
    centres = rng.standard_normal((n_people, DESCRIPTOR_DIM)) * (0.55 / np.sqrt(DESCRIPTOR_DIM))
    who = np.repeat(np.arange(n_people), sizes)
    spread = rng.uniform(0.25, 0.45, n_people)[who]
    x = centres[who] + rng.standard_normal((len(who), DESCRIPTOR_DIM)) * (spread / np.sqrt(2 * DESCRIPTOR_DIM))[:, None]
    order = rng.permutation(len(who))
    return x[order], who[order]
