"""Kanta's privacy rules as data and pure computation (no database, no storage): the default
consent text, the bounds of a retention period, and which faces the do-not-index list keeps
out.

Guests' faces are biometric data (GDPR Art. 9; Illinois BIPA): a guest reads what Kanta does
with their face before a selfie is used, face data is deleted at the end of a stated period,
and a guest may have their faces erased. See README, "Privacy".
"""

from __future__ import annotations

import numpy as np

from kanta.faces import DESCRIPTOR_DIM

#: Shown to guests before a selfie is used when the host wrote no consent text of their own
#: (``events.consent_text`` NULL). The one place this text is defined.
DEFAULT_CONSENT_TEXT = (
    "To find your photos, Kanta computes a face template (128 numbers that describe a face) from "
    "the selfie you send and compares it with the faces in this event's photos. Your selfie is not "
    "stored, and its template is forgotten once the search is done. The templates and face "
    "thumbnails of the event's photos are kept only for this event, by its host, and deleted when "
    "the event's retention period ends (or when the event is deleted). You can ask at any time to "
    "be forgotten: your faces are then erased from this event, and Kanta keeps your selfie's "
    "template, for this event only, to leave you out of photos uploaded later. By continuing, you "
    "agree to this use of your face."
)

#: Days face data is kept after an event when its host says nothing (``events.retention_days``).
DEFAULT_RETENTION_DAYS = 30
#: Bounds of ``retention_days``: at least a day, at most ten years (3,650 days; a longer
#: "retention" is no retention policy).
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 3650
#: Longest consent text a host may write, characters (as an event's description).
MAX_CONSENT_TEXT = 4000


def _matrix(name: str, values: np.ndarray) -> np.ndarray:
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.size == 0:
        return np.empty((0, DESCRIPTOR_DIM))
    if matrix.ndim != 2 or matrix.shape[1] != DESCRIPTOR_DIM:
        raise ValueError(f"{name} must be (n, {DESCRIPTOR_DIM}) descriptors, not {matrix.shape}")
    return matrix


def listed(descriptors: np.ndarray, do_not_index: np.ndarray, cut: float) -> np.ndarray:
    """Which faces the do-not-index list keeps out: ``bool`` ``(k,)``, true for each face of
    ``descriptors`` (float ``(k, 128)`` dlib descriptors) whose Euclidean distance to some
    descriptor of ``do_not_index`` (float ``(m, 128)``) is at most ``cut`` (the search's face
    cut, ``KANTA_SEARCH_MAX_DISTANCE``: one face that near is taken for the same person).
    Computed in float64. Raises ``ValueError`` when an array is not ``(n, 128)``."""
    faces = _matrix("descriptors", descriptors)
    kept_out = _matrix("do_not_index", do_not_index)
    if not len(faces) or not len(kept_out):
        return np.zeros(len(faces), dtype=bool)
    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, clipped at 0 against rounding.
    squared = (faces * faces).sum(1)[:, None] + (kept_out * kept_out).sum(1)[None, :] - 2.0 * faces @ kept_out.T
    return (np.sqrt(np.maximum(squared, 0.0)) <= cut).any(axis=1)
