"""Helpers of the guest link tests: guest requests as the host hands them over (no function
key, the token as a bearer), with the response's headers, and the settings of the caps."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import azure.functions as func

from tests.helpers import bearer

#: Each guest route: (function name, method, extra route parameters).
GUEST_ROUTES = [
    ("guest_event", "GET", {}),
    ("guest_create_uploads", "POST", {}),
    ("guest_upload_status", "GET", {"image_id": "00000000-0000-4000-8000-000000000000"}),
    ("guest_search", "POST", {}),
    ("guest_images", "GET", {}),
    ("guest_forget", "POST", {}),
]


def guest_call(functions: dict[str, Callable], name: str, code: str, token: str | None, method: str = "GET", *,
               route: dict[str, str] | None = None, params: dict[str, str] | None = None, json_body: Any = None,
               body: bytes | None = None, headers: dict[str, str] | None = None
               ) -> tuple[int, Any, dict[str, str]]:
    """Call guest route ``name`` of event ``code`` with ``token`` as the bearer (``None``: no
    Authorization header) and no function key: ``(status, JSON body, headers)``."""
    all_headers = {**(bearer(token) if token is not None else {}), **(headers or {})}
    if json_body is not None:
        body = json.dumps(json_body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    req = func.HttpRequest(method=method, url=f"http://localhost/api/guest/events/{code}", params=params or {},
                           route_params={"code": code, **(route or {})}, body=body or b"", headers=all_headers)
    resp = functions[name](req)
    raw = resp.get_body()
    return resp.status_code, (json.loads(raw) if raw else None), dict(resp.headers)


def upload_body(count: int = 1, size_bytes: int = 1_000_000) -> dict[str, Any]:
    """A body of ``POST …/uploads`` asking for ``count`` JPEG upload URLs, each file declared
    ``size_bytes`` bytes."""
    return {"files": [{"filename": f"guest-{i}.jpg", "content_type": "image/jpeg", "size_bytes": size_bytes}
                      for i in range(count)]}
