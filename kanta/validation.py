"""Field types shared by the request schemas, and Kanta's own validation errors.

Each type parses strictly (ASCII digits, one spelling of a time, JSON integers that are
integers) and within bounds PostgreSQL can store, and fails with a ``PydanticCustomError``
whose type and message are Kanta's (``invalid``); ``kanta.http`` reports those as they are
and rewords pydantic's own errors (``kanta.http.validation_details``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

#: Largest value of a PostgreSQL ``integer`` (int4): cluster ids, face counts, offsets.
INT4_MAX = 2**31 - 1
#: Larger than any bound of any numeric field: what a number too long to be worth reading
#: becomes (``json_int``, ``_query_int``), so its field reports "must be at most …".
OUT_OF_RANGE = 10**20
#: Digits an integer may have before it is read as ``OUT_OF_RANGE``: Python refuses to
#: convert strings over 4,300 digits (``sys.int_info.default_max_str_digits``) and every
#: bound here is far below 20 digits.
MAX_INT_DIGITS = 20

#: Earliest and latest event time, inclusive. Kanta indexes photos guests upload while an
#: event runs; the times decide when it is *running* (re-clustered by the timer). A time
#: outside this century is a client's mistake (seconds read as milliseconds, a typo'd year),
#: and both ends stay far inside what PostgreSQL ``timestamptz`` and Python can hold.
EARLIEST_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST_TIME = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
#: Longest event, ``ends_at - starts_at``: three years (leap days included) covers a school
#: year, a season or a festival series with room to spare; a longer "event" is a typo'd year.
MAX_EVENT_DURATION = dt.timedelta(days=3 * 366)

#: The types of Kanta's own validation errors (``invalid``), reported with their messages as
#: they are. Anything else pydantic reports is reworded by ``kanta.http``.
ERROR_TYPES: set[str] = set()


def invalid(error_type: str, message: str) -> PydanticCustomError:
    """A validation error in Kanta's words, of a stable ``error_type`` (registered in
    ``ERROR_TYPES``); raise it from a validator."""
    ERROR_TYPES.add(error_type)
    return PydanticCustomError(error_type, message)


def field_error(title: str, field: str, value: Any, error: PydanticCustomError) -> ValidationError:
    """``error`` reported on ``field``, for a model validator that checks several fields
    (a ``ValueError`` there would name no field)."""
    return ValidationError.from_exception_data(title, [InitErrorDetails(type=error, loc=(field,), input=value)])


# --- text -----------------------------------------------------------------------------------


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL (psycopg raises DataError): refuse it as bad input. (An
    # unpaired surrogate, JSON's "\ud800", never gets here: pydantic refuses it as a string.)
    if "\x00" in value:
        raise invalid("nul_character", "Must not contain NUL characters.")
    return value


#: A string PostgreSQL can store: no NUL, no unpaired surrogate.
Text = Annotated[str, AfterValidator(_no_nul)]


# --- times ----------------------------------------------------------------------------------

#: RFC 3339 with optional seconds: ``2026-06-01T18:00:00+02:00``, ``2026-06-01T16:00Z``,
#: ``…:00.123Z``. ASCII digits only; no date-only, week or ordinal forms, and no numbers
#: (pydantic would read 99999999999999 as a Unix time in milliseconds).
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})")
TIME_FORM = "an ISO 8601 time with a UTC offset, like 2026-06-01T18:00:00+02:00"


def _time_text(value: Any) -> Any:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise invalid("not_a_time", f"Must be {TIME_FORM}.")
    return value


def _within_century(value: dt.datetime) -> dt.datetime:
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:  # past Python's years 1-9999 once in UTC: out of range as well
        utc = None
    if utc is None or not EARLIEST_TIME <= utc <= LATEST_TIME:
        raise invalid("time_out_of_range", "Must fall between 2000-01-01 and 2100-01-01 (UTC).")
    return utc


#: A time as ``TIME_FORM``, normalised to UTC, between ``EARLIEST_TIME`` and ``LATEST_TIME``.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_time_text), AfterValidator(_within_century)]


def check_window(title: str, starts_at: dt.datetime | None, ends_at: dt.datetime | None) -> None:
    """Raise a ``ValidationError`` on ``ends_at`` unless the event ends after it starts and
    lasts at most ``MAX_EVENT_DURATION``; either end may be open."""
    if starts_at is None or ends_at is None:
        return
    if starts_at >= ends_at:
        raise field_error(title, "ends_at", ends_at, invalid("ends_before_start", "Must be after starts_at."))
    if ends_at - starts_at > MAX_EVENT_DURATION:
        raise field_error(title, "ends_at", ends_at, invalid(
            "event_too_long", f"An event lasts at most {MAX_EVENT_DURATION.days} days after starts_at."))


# --- numbers in JSON bodies -----------------------------------------------------------------


def json_int(digits: str) -> int:
    """``json.loads``' ``parse_int``: the integer, or ``±OUT_OF_RANGE`` for one of more than
    ``MAX_INT_DIGITS`` digits (never converted: Python refuses over 4,300)."""
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        return -OUT_OF_RANGE if digits.startswith("-") else OUT_OF_RANGE
    return int(digits)


def BodyInt(ge: int, le: int) -> Any:
    """An integer of a JSON body in ``[ge, le]``: a JSON integer only (no string, float or
    boolean)."""
    return Annotated[int, Field(strict=True, ge=ge, le=le)]


# --- query strings --------------------------------------------------------------------------

_QUERY_INT = re.compile(r"-?[0-9]+")
_QUERY_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


def _query_int(value: Any) -> Any:
    # int() would also take " 1", "+1", "1_000" and Arabic-Indic digits.
    if not isinstance(value, str) or not _QUERY_INT.fullmatch(value):
        raise invalid("not_an_integer", "Must be a whole number in ASCII digits.")
    return json_int(value)


def _query_number(value: Any) -> Any:
    # float() would also take "nan", "inf", "1e3", " 1" and non-ASCII digits.
    if not isinstance(value, str) or len(value) > 32 or not _QUERY_NUMBER.fullmatch(value):
        raise invalid("not_a_number", "Must be a decimal number in ASCII digits, like 0.5.")
    return float(value)


def _query_bool(value: Any) -> Any:
    if value not in ("true", "false"):
        raise invalid("not_a_boolean", "Must be true or false.")
    return value == "true"


def QueryInt(ge: int, le: int) -> Any:
    """An integer query parameter in ``[ge, le]``, in ASCII digits (optional ``-``)."""
    # The bounds before the validator: the same checks, but on the integer schema itself, so
    # its JSON schema says minimum/maximum (after a validator pydantic writes "ge"/"le").
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(_query_int)]


def QueryNumber(gt: float, le: float) -> Any:
    """A number query parameter in ``(gt, le]``, written ``123`` or ``0.48`` in ASCII digits."""
    return Annotated[float, Field(gt=gt, le=le), BeforeValidator(_query_number)]


#: A boolean query parameter: ``true`` or ``false``.
QueryBool = Annotated[bool, BeforeValidator(_query_bool)]

#: Paging of every list: at most ``MAX_PAGE`` items a page (a person with 20 samples is about
#: 6 KB of JSON, mostly read URLs, so a page stays near a megabyte), from an ``offset`` within
#: a PostgreSQL ``integer``.
MAX_PAGE = 200
PageLimit = QueryInt(1, MAX_PAGE)
PageOffset = QueryInt(0, INT4_MAX)


#: Event codes appear in URLs and blob names: 3–32 characters of ``[a-z0-9-]``.
EVENT_CODE_PATTERN = r"^[a-z0-9-]{3,32}$"


def _event_code(value: Any) -> Any:
    if not isinstance(value, str) or not re.fullmatch(EVENT_CODE_PATTERN, value):
        raise invalid("bad_event_code", "Must be 3 to 32 characters of a-z, 0-9 and '-'.")
    return value


#: An event code (``EVENT_CODE_PATTERN``), with Kanta's message when it is not one. The
#: pattern is also written into its JSON schema (the OpenAPI document), not checked by pydantic.
EventCode = Annotated[str, AfterValidator(_event_code), Field(json_schema_extra={"pattern": EVENT_CODE_PATTERN})]
