"""Triggers of the web pages (anonymous), all served from ``static/`` next to this module: no
CDN, no build step.

- The guest page: ``GET /api/join/{code}`` and ``GET /api/join-assets/{name}`` (its script and
  style sheet).
- The host console: ``GET /api/host`` and ``GET /api/host-assets/{name}``. The page holds
  nothing secret: the host signs in with the Function App's key, which the page keeps in the
  tab's ``sessionStorage`` and sends in ``x-functions-key`` on each API call (never in a URL).

The page reads the guest link's token from the URL fragment (``#t=...``), which browsers
never send to a server, and sends it to the guest routes in ``Authorization: Bearer``; so the
token is in no request line, server log or ``Referer``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import urlsplit

import azure.functions as func

from kanta import storage
from kanta.endpoints import endpoint
from kanta.errors import NotFound
from kanta.http import file_response
from kanta.validation import EventCode

bp = func.Blueprint()
#: A page or one of its files: anonymous, and no database.
page = functools.partial(endpoint, bp, tag="web", auth="anonymous", database=False)

#: The page's files.
STATIC = Path(__file__).parent / "static"
#: Media type of the pages' scripts and style sheets, by extension.
MEDIA_TYPES = {"js": "text/javascript", "css": "text/css"}
#: The files each page's asset route serves (``join-assets/``: the guest page's,
#: ``host-assets/``: the host console's): nothing else is.
ASSETS = ("common.js", "common.css", "app.js", "app.css")
HOST_ASSETS = ("common.js", "common.css", "host.js", "host.css", "host-photos.js", "host-people.js")
#: Seconds browsers may cache the page's files (short: a new deployment shows within minutes).
CACHE_S = 300


@functools.cache
def _read(name: str) -> bytes:
    """The bytes of ``static/{name}`` (``index.html``, ``host.html`` or one of ``ASSETS`` and
    ``HOST_ASSETS``), read once per process: they change only with a deployment."""
    return (STATIC / name).read_bytes()


def _storage_origin() -> str:
    """Origin of the uploads account's blob endpoint: the page PUTs photos there and shows
    photos from there (read and upload URLs are SAS URLs on it)."""
    parts = urlsplit(storage.get_blob_service().url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers() -> dict[str, str]:
    """Headers of every page response: a Content-Security-Policy allowing scripts, styles and
    requests only from this app and the blob endpoint (no inline script, no other origin), no
    ``Referer`` sent anywhere, no MIME sniffing, no framing by other sites."""
    blobs = _storage_origin()
    policy = "; ".join([
        "default-src 'self'",
        f"img-src 'self' {blobs} blob: data:",
        f"connect-src 'self' {blobs}",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    ])
    return {"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff", "Cache-Control": f"private, max-age={CACHE_S}"}


@page("guest_page", "GET", "join/{code}", summary="The guest page of an event (join URL)", path={"code": EventCode},
      responses={200: "text/html"})
def guest_page() -> func.HttpResponse:
    """The guest page (HTML). It asks the guest routes for the
    event with the token of its URL fragment, so an unknown event or a bad token is shown on
    the page, in words, not as an HTTP error here."""
    return file_response(_read("index.html"), "text/html", security_headers())


@page("guest_page_asset", "GET", "join-assets/{name}", summary="A file of the guest page",
      responses={200: ("text/javascript", "text/css")}, errors=("asset_not_found",))
def guest_page_asset(name: str) -> func.HttpResponse:
    """One of ``ASSETS``; any other name is not found."""
    return _asset(name, ASSETS, "The guest page")


def _asset(name: str, names: tuple[str, ...], page: str) -> func.HttpResponse:
    """``static/{name}`` when ``name`` is one of ``names`` (a fixed list: no path is ever built
    from the request), else ``NotFound`` ``asset_not_found`` saying ``page`` has no such file."""
    if name not in names:
        raise NotFound("asset_not_found", f"{page} has no such file.")
    return file_response(_read(name), MEDIA_TYPES[name.rsplit(".", 1)[1]], security_headers())


@page("host_console", "GET", "host", summary="The host console (sign in with the function key)",
      responses={200: "text/html"})
def host_console() -> func.HttpResponse:
    """The host console (HTML). Anonymous: the page holds nothing secret;
    every API call it makes carries the key the host signs in with, and the API checks it."""
    return file_response(_read("host.html"), "text/html", security_headers())


@page("host_console_asset", "GET", "host-assets/{name}", summary="A file of the host console",
      responses={200: ("text/javascript", "text/css")}, errors=("asset_not_found",))
def host_console_asset(name: str) -> func.HttpResponse:
    """One of ``HOST_ASSETS``; any other name is not found."""
    return _asset(name, HOST_ASSETS, "The host console")
