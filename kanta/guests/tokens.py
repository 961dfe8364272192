"""Pure helpers of guest link tokens: making one, hashing it for storage, reading it from an
``Authorization`` header, and the join URL that carries it. No I/O."""

from __future__ import annotations

import hashlib
import re
import secrets

#: Random bytes of a token: 256 bits, far beyond guessing (``secrets.token_urlsafe``).
TOKEN_BYTES = 32
#: A token as ``secrets.token_urlsafe(TOKEN_BYTES)`` writes it: 43 characters of base64url
#: without padding. Anything else is refused before the database is asked.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
#: ``Authorization: Bearer <token>`` (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1).
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+) *")


def new_token() -> str:
    """A new guest link token: ``TOKEN_BYTES`` random bytes from the OS's CSPRNG, base64url
    (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    """The SHA-256 (32 bytes) of a token, the only form in which it is stored. A plain hash
    suffices: 256 random bits cannot be found by trying candidates against it."""
    return hashlib.sha256(token.encode("ascii")).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header value ``Bearer <token>``, or ``None`` when
    there is none or it is not of a token's form (``_TOKEN``)."""
    if not authorization:
        return None
    match = _BEARER.fullmatch(authorization.strip())
    if match is None or not _TOKEN.fullmatch(match.group(1)):
        return None
    return match.group(1)


def join_url(base: str, event_code: str, token: str) -> str:
    """``{base}/api/join/{event_code}#t={token}``: the page a guest opens. The token is in the
    fragment, which browsers never send to a server, so it lands in no server's log; the
    page reads it and sends it as ``Authorization: Bearer``."""
    return f"{base.rstrip('/')}/api/join/{event_code}#t={token}"
