"""Helpers shared by the tests: photos of tests/data, the blob trigger and the HTTP functions
called the way the Functions host calls them, and resetting Kanta's cached clients."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure.functions as func

DATA = Path(__file__).parent / "data"


def reset_clients() -> None:
    """Forget cached settings, pool and storage clients so changed env vars take effect."""
    from kanta.config import get_settings
    from kanta.db import close_pool
    from kanta.storage import get_blob_service

    close_pool()
    get_settings.cache_clear()
    get_blob_service.cache_clear()


class Api:
    """Calls HTTP functions the way the host does: a ``func.HttpRequest`` in, a response out."""

    def __init__(self, functions: dict[str, Callable]) -> None:
        self.functions = functions

    def __call__(self, name: str, method: str = "GET", *, route: dict[str, str] | None = None,
                 params: dict[str, str] | None = None, json_body: Any = None, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, Any]:
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        req = func.HttpRequest(method=method, url=f"http://localhost/api/{name}", params=params or {},
                               route_params=route or {}, body=body or b"", headers=headers)
        resp = self.functions[name](req)
        raw = resp.get_body()
        return resp.status_code, (json.loads(raw) if raw else None)


def photo(name: str) -> bytes:
    """Bytes of a labelled photo in tests/data (see tests/data/README.md)."""
    return (DATA / name).read_bytes()


def run_blob_trigger(functions: dict[str, Callable], blob_name: str, data: bytes | None = None) -> None:
    """Invoke the blob trigger as the host does for ``uploads/{blob_name}``: the blob's bytes
    are read from Azurite unless ``data`` is given."""
    from kanta.config import UPLOADS_CONTAINER
    from kanta.storage import read_blob

    if data is None:
        data = read_blob(blob_name)
    stream = func.blob.InputStream(data=data, name=f"{UPLOADS_CONTAINER}/{blob_name}", length=len(data))
    functions["encode_uploaded_image"](stream)


def put_blob(blob_name: str, data: bytes) -> None:
    """Write a blob to the uploads container with the SDK (a client other than a browser)."""
    from kanta.storage import uploads_container

    uploads_container().upload_blob(blob_name, data, overwrite=True)


def side_by_side(*names: str) -> bytes:
    """One JPEG holding the given photos of tests/data next to each other (several faces in
    one photo, as in a group photo)."""
    import io

    from PIL import Image

    images = [Image.open(DATA / n).convert("RGB") for n in names]
    canvas = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)), (128, 128, 128))
    x = 0
    for img in images:
        canvas.paste(img, (x, 0))
        x += img.width
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=92)
    return buf.getvalue()
