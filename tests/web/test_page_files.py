"""The guest page's files as the Function App serves them (anonymous): the page, its script
and style sheet, and nothing else; each with the headers that keep the page to its own
origin and the blob endpoint."""

from __future__ import annotations

import azure.functions as func
import pytest


def get(functions, name: str, route: dict[str, str]) -> func.HttpResponse:
    req = func.HttpRequest(method="GET", url=f"http://localhost/api/{name}", params={}, route_params=route,
                           body=b"", headers={})
    return functions[name](req)


def test_the_page_and_its_files_are_served_with_a_strict_content_security_policy(functions):
    from kanta.storage import get_blob_service

    page = get(functions, "guest_page", {"code": "wedding-2026"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b'src="../join-assets/app.js"' in page.get_body()
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    blobs = get_blob_service().url.split("/")[2]
    assert f"connect-src 'self' http://{blobs}" in policy or f"connect-src 'self' https://{blobs}" in policy
    assert page.headers["Referrer-Policy"] == "no-referrer"
    for name, mimetype in (("app.js", "text/javascript"), ("app.css", "text/css")):
        asset = get(functions, "guest_page_asset", {"name": name})
        assert (asset.status_code, asset.mimetype) == (200, mimetype)
        assert asset.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", ["index.html", "../functions.py", "..%2Ffunctions.py", "APP.JS", "app.js ", ""])
def test_no_other_file_is_served(functions, name):
    asset = get(functions, "guest_page_asset", {"name": name})
    assert asset.status_code == 404
    assert b"asset_not_found" in asset.get_body()
