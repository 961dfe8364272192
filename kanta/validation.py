"""Field types shared by the request schemas: text PostgreSQL can store, times it can return."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL (psycopg raises DataError): refuse it as bad input.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _utc_representable(value: dt.datetime) -> dt.datetime:
    # Python datetimes stop at years 1 and 9999: a value PostgreSQL would store but psycopg
    # could not read back once converted to UTC.
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("must fall between years 1 and 9999 in UTC") from None


#: A string without NUL characters.
Text = Annotated[str, AfterValidator(_no_nul)]
#: An ISO 8601 time with a UTC offset, normalised to UTC, within years 1–9999 in UTC.
Timestamp = Annotated[AwareDatetime, AfterValidator(_utc_representable)]
