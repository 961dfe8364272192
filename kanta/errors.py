"""Kanta's domain errors: what services raise when a request cannot be served, in Kanta's
words and with a stable ``code``. Services know nothing of HTTP; ``kanta.http`` alone turns
each kind into a status code (``kanta.http.STATUS``).

Every error carries ``code`` (stable, for programs), ``message`` (for people; never a
library's text) and optional ``details`` (per-field problems of a request).
"""

from __future__ import annotations

import re
from typing import Any


class KantaError(Exception):
    """Base of the domain errors: ``code``, ``message`` and optional ``details``."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
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
