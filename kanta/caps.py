"""Abuse caps of guest links: fixed-window counters in PostgreSQL (``rate_counters``, this
module its only writer), so every instance of the app counts against the same cap.

A cap counts something (upload URLs, bytes, searches, forgets) of someone (a guest link or
an event) per fixed window: whole UTC hours or days. ``take`` adds to the current window and
refuses past the limit; ``adjust`` corrects an earlier count (an upload's declared size to
its real one) in the window it was made in and never refuses. Knows nothing of HTTP: raises
``kanta.errors.TooManyRequests``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from kanta.config import get_settings
from kanta.db import connection
from kanta.errors import TooManyRequests

HOUR_S = 3600
DAY_S = 86_400


def size_in_words(size_bytes: int) -> str:
    """``size_bytes`` as people read it: decimal megabytes with one decimal (``"60.0 MB"``),
    gigabytes from 1000 MB (``"5.0 GB"``); bytes or kilobytes below a megabyte. The guest
    page formats sizes the same way."""
    if size_bytes >= 1_000_000_000:
        return f"{size_bytes / 1e9:.1f} GB"
    if size_bytes >= 1_000_000:
        return f"{size_bytes / 1e6:.1f} MB"
    if size_bytes >= 1000:
        return f"{size_bytes / 1e3:.1f} kB"
    return f"{size_bytes} bytes"


@dataclass(frozen=True)
class Cap:
    """A cap on a count per fixed window: ``scope`` names what is counted (and whose: a
    link's or an event's), ``window_s`` is the window in seconds, ``setting`` the
    ``kanta.config.Settings`` field of the limit, ``message`` what the refusal says (``{n}``:
    the limit, written by ``words``)."""

    scope: str
    window_s: int
    setting: str
    message: str
    words: Callable[[int], str] = str

    @property
    def limit(self) -> int:
        """The limit in force (``kanta.config.Settings``)."""
        return getattr(get_settings(), self.setting)


LINK_UPLOADS = Cap("link_uploads", HOUR_S, "guest_uploads_per_hour",
                   "This guest link may ask for at most {n} photo uploads an hour.")
EVENT_UPLOADS = Cap("event_uploads", DAY_S, "guest_uploads_per_event_day",
                    "Guests may upload at most {n} photos a day to this event.")
#: Bytes: declared when upload URLs are issued, corrected to the blob's real size when it
#: arrives (``kanta.images.ingest``).
LINK_BYTES = Cap("link_bytes", HOUR_S, "guest_bytes_per_hour",
                 "This guest link may upload at most {n} of photos an hour.", size_in_words)
EVENT_BYTES = Cap("event_bytes", DAY_S, "guest_bytes_per_event_day",
                  "Guests may upload at most {n} of photos a day to this event.", size_in_words)
LINK_SEARCHES = Cap("link_searches", HOUR_S, "guest_searches_per_hour",
                    "This guest link may search at most {n} times an hour.")
LINK_FORGETS = Cap("link_forgets", HOUR_S, "guest_forgets_per_hour",
                   "This guest link may ask to forget a face at most {n} times an hour.")
#: The longest window: a counter row whose window started this long ago has ended.
LONGEST_WINDOW_S = DAY_S
#: Fixed windows start at whole multiples of their length from this instant (UTC midnight):
#: hours on the hour, days at midnight UTC.
_WINDOW_ORIGIN = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def take(conn: psycopg.Connection, cap: Cap, key: object, amount: int) -> None:
    """Count ``amount`` against ``cap`` for ``key`` in the current window, in one atomic
    statement (concurrent requests wait for each other on the counter row). Over the limit,
    raises ``TooManyRequests`` ``too_many_requests`` with the seconds to the window's end;
    the caller's transaction then rolls back, so a refused request counts nothing."""
    limit = cap.limit
    row = conn.execute(
        """INSERT INTO rate_counters AS c (scope, key, window_start, count)
           VALUES (%(scope)s, %(key)s, date_bin(make_interval(secs => %(window)s), now(), %(origin)s), %(n)s)
           ON CONFLICT (scope, key, window_start) DO UPDATE SET count = c.count + EXCLUDED.count
           RETURNING count, extract(epoch FROM c.window_start + make_interval(secs => %(window)s) - now())::float8
                            AS left_s""",
        {"scope": cap.scope, "key": str(key), "window": cap.window_s, "origin": _WINDOW_ORIGIN, "n": amount},
    ).fetchone()
    if row["count"] > limit:
        left = max(0, limit - (row["count"] - amount))
        more = f" {cap.words(left)} more may be asked for now." if 0 < left < amount else ""
        retry = math.ceil(row["left_s"])
        raise TooManyRequests("too_many_requests",
                              cap.message.format(n=cap.words(limit)) + more + f" Try again in {_duration(retry)}.",
                              retry)


def adjust(conn: psycopg.Connection, cap: Cap, key: object, amount: int, at: dt.datetime) -> None:
    """Add ``amount`` (may be negative) to ``cap``'s count for ``key`` in the window holding
    ``at`` (timezone-aware): where the count being corrected was taken. Never refuses; a
    count never goes below 0 (its window may have ended and been purged)."""
    conn.execute(
        """INSERT INTO rate_counters AS c (scope, key, window_start, count)
           VALUES (%(scope)s, %(key)s, date_bin(make_interval(secs => %(window)s), %(at)s, %(origin)s),
                   greatest(0, %(n)s))
           ON CONFLICT (scope, key, window_start) DO UPDATE SET count = greatest(0, c.count + %(n)s)""",
        {"scope": cap.scope, "key": str(key), "window": cap.window_s, "origin": _WINDOW_ORIGIN, "n": amount,
         "at": at},
    )


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * HOUR_S:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / HOUR_S)} hours"


def purge_counters() -> int:
    """Delete the counters of windows that have ended (started over ``LONGEST_WINDOW_S``
    ago). Returns how many. Raises ``psycopg.OperationalError``."""
    with connection() as conn:
        return conn.execute("DELETE FROM rate_counters WHERE window_start < now() - make_interval(secs => %s)",
                            (LONGEST_WINDOW_S,)).rowcount
