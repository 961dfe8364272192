"""Kanta's domain errors: what services raise when a request cannot be served, in Kanta's
words and with a stable ``code``, and the one catalogue of those codes (``CATALOGUE``).

Every error carries ``code`` (stable, for programs), ``message`` (for people; never a
library's text) and optional ``details`` (per-field problems of a request). Services raise
them by class and code (``Invalid("same_cluster", ...)``) and know nothing of HTTP; each
code's row in ``CATALOGUE`` gives its class, the HTTP status ``kanta.http`` answers it with
and what it means (the OpenAPI document lists it so). An error made with a code the
catalogue lacks, or with another class than its row's, raises ``UnknownErrorCode``: a
request that would answer it is a 500 ``internal_error``, so any test that reaches it fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class UnknownErrorCode(ValueError):
    """A ``KantaError`` made with a code not in ``CATALOGUE``, or of another class than the
    code's row: a mistake in Kanta's source, never a caller's."""


class KantaError(Exception):
    """Base of the domain errors: ``code`` (a key of ``CATALOGUE``, of this very class),
    ``message`` and optional ``details``. Raises ``UnknownErrorCode`` otherwise."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        entry = CODES.get(code)
        if entry is None:
            raise UnknownErrorCode(f"error code {code!r} is not in kanta.errors.CATALOGUE")
        if type(self) is not entry.kind:
            raise UnknownErrorCode(f"error code {code!r} is a {entry.kind.__name__} in kanta.errors.CATALOGUE, "
                                   f"not a {type(self).__name__}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class NotFound(KantaError):
    """The thing asked for does not exist (or no longer does)."""


class Conflict(KantaError):
    """The request clashes with the current state (a code taken, a migration edited)."""


class Invalid(KantaError):
    """The request is well-formed but its values cannot be used."""


class Malformed(KantaError):
    """The request body cannot be read at all (not JSON, not UTF-8)."""


class UnsupportedMediaType(KantaError):
    """The request body is of a type this route does not take."""


class TooLarge(KantaError):
    """The request body or file is over a limit."""


class Unavailable(KantaError):
    """A service Kanta needs (the database) cannot be reached; retry shortly."""


class Unauthorized(KantaError):
    """The request carries no credential, or one that is malformed, unknown, expired or
    revoked (a guest link's token)."""


class Forbidden(KantaError):
    """The credential is good but does not allow this (a right the guest link withholds)."""


class TooManyRequests(KantaError):
    """A cap on how often something may be done is reached; ``retry_after_s`` (whole
    seconds, at least 1) is when the current window ends and it may be done again."""

    def __init__(self, code: str, message: str, retry_after_s: int) -> None:
        super().__init__(code, message)
        self.retry_after_s = max(1, int(retry_after_s))


class Failed(KantaError):
    """An operation failed on Kanta's side in a way its caller must see (admin only)."""


#: A key shown back in a message: letters, digits and '-' (event codes, ids, UUIDs). Anything
#: else a caller put in a URL (spaces, control characters, other scripts) is not repeated.
_SHOWN_KEY = re.compile(r"[A-Za-z0-9-]{1,64}")


def not_found(kind: str, key: object) -> NotFound:
    """``NotFound`` with code ``{kind}_not_found``, e.g. ``not_found("event", "wedding-2026")``
    → "No event wedding-2026."; a key not of ``_SHOWN_KEY``'s form → "No such event."."""
    shown = str(key)
    message = f"No {kind} {shown}." if _SHOWN_KEY.fullmatch(shown) else f"No such {kind}."
    return NotFound(f"{kind}_not_found", message)


# --- the catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorCode:
    """One stable error code: the ``KantaError`` class that carries it, the HTTP status it is
    answered with (the same for every code of a class), and what it means, for the OpenAPI
    document (Markdown)."""

    code: str
    kind: type[KantaError]
    status: int
    description: str


#: Every error code Kanta answers with. ``route_not_found`` is the local host's answer to a
#: path no route matches (``kanta.local.host``); every other code is raised as a ``KantaError``.
CATALOGUE: tuple[ErrorCode, ...] = (
    ErrorCode("malformed_json", Malformed, 400, "The body is not strict UTF-8 JSON, or nests too deeply."),
    ErrorCode("guest_token_invalid", Unauthorized, 401, "No guest token, or one that is unknown, expired or revoked."),
    ErrorCode("right_withheld", Forbidden, 403, "The guest link does not allow this."),
    ErrorCode("event_not_found", NotFound, 404, "No event has this code."),
    ErrorCode("image_not_found", NotFound, 404, "No photo has this id."),
    ErrorCode("cluster_not_found", NotFound, 404, "The event has no person with this id."),
    ErrorCode("face_not_found", NotFound, 404, "No face has this id."),
    ErrorCode("guest_link_not_found", NotFound, 404, "The event has no guest link."),
    ErrorCode("file_not_found", NotFound, 404, "The API reference has no file of this name."),
    ErrorCode("asset_not_found", NotFound, 404, "The page (guest page or host console) has no file of this name."),
    ErrorCode("route_not_found", NotFound, 404,
              "No route matches the path (a parameter that is empty or holds a '/'). Kanta's local host answers so; "
              "the Functions host answers 404 with no body."),
    ErrorCode("event_exists", Conflict, 409, "An event already has this code."),
    ErrorCode("image_not_uploaded", Conflict, 409, "The photo is not in storage (yet): there is nothing to index."),
    ErrorCode("image_changed", Conflict, 409, "The photo was replaced or removed while it was read; try again."),
    ErrorCode("migration_changed", Conflict, 409, "A migration file that was applied has been edited since."),
    ErrorCode("face_search_off", Conflict, 409, "The event's host turned selfie search off."),
    ErrorCode("retention_over", Conflict, 409, "The event's retention period has ended: its face data is deleted."),
    ErrorCode("payload_too_large", TooLarge, 413, "The body is over this route's limit."),
    ErrorCode("unsupported_media_type", UnsupportedMediaType, 415, "The body is not sent as application/json (UTF-8)."),
    ErrorCode("validation_error", Invalid, 422,
              "A value is missing, unknown, of the wrong type or out of range: see `details`."),
    ErrorCode("same_cluster", Invalid, 422, "A person cannot be merged into itself."),
    ErrorCode("face_excluded", Invalid, 422, "The face is too small or too blurry to be part of a person."),
    ErrorCode("not_in_cluster", Invalid, 422, "The face is in no person."),
    ErrorCode("invalid_image", Invalid, 422, "The photo cannot be decoded, or is over the pixel limits."),
    ErrorCode("no_face", Invalid, 422, "No face was found in the photo."),
    ErrorCode("face_unusable", Invalid, 422, "Every face in the photo is too small or too blurry to search with."),
    ErrorCode("consent_required", Invalid, 422, "The guest has not accepted the event's consent text."),
    ErrorCode("confirmation_required", Invalid, 422, "Forgetting a face must be confirmed."),
    ErrorCode("too_many_requests", TooManyRequests, 429,
              "Done too often; `Retry-After` says when it may be done again."),
    ErrorCode("internal_error", Failed, 500, "Something went wrong on Kanta's side (logged)."),
    ErrorCode("migration_failed", Failed, 500,
              "A migration statement failed (rolled back); the message has the database's reason."),
    ErrorCode("database_unavailable", Unavailable, 503, "The database is unreachable; try again shortly."),
    ErrorCode("people_busy", Unavailable, 503, "The event's people are being sorted again; try in a minute."),
    ErrorCode("faces_busy", Unavailable, 503, "The event's photos are being indexed; try again in a minute."),
    ErrorCode("storage_unavailable", Unavailable, 503,
              "Photo storage is unreachable; nothing was erased; try again shortly."),
)
#: ``CATALOGUE`` by code.
CODES: dict[str, ErrorCode] = {entry.code: entry for entry in CATALOGUE}


def _status_by_class(catalogue: tuple[ErrorCode, ...]) -> dict[type[KantaError], int]:
    """Each error class's status; ``ValueError`` when two codes of a class differ (so a client
    can rely on the class's status whatever the code) or a code is listed twice."""
    if len(CODES) != len(catalogue):
        raise ValueError("kanta.errors.CATALOGUE lists a code twice")
    status: dict[type[KantaError], int] = {}
    for entry in catalogue:
        if status.setdefault(entry.kind, entry.status) != entry.status:
            raise ValueError(f"{entry.code}: {entry.kind.__name__} is {status[entry.kind]} elsewhere in the catalogue")
    return status


#: The HTTP status of each error class, from ``CATALOGUE`` (read by ``kanta.http``).
STATUS_OF_CLASS: dict[type[KantaError], int] = _status_by_class(CATALOGUE)
