"""``kanta.images.schemas``: what a request for upload URLs may hold: 1 to 50 files, each a
JPEG, PNG or WebP with a name of 1 to 255 characters. Anything else is a 422
``validation_error`` naming the file's field, and no ticket of the batch is created."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Api, assert_error, error_fields, get_event


def request_uploads(api: Api, code: str, files: list[dict[str, Any]]) -> tuple[int, Any]:
    """``POST /api/events/{code}/uploads`` for ``files``."""
    return api("create_uploads", "POST", route={"code": code}, json_body={"files": files})


@pytest.mark.parametrize("count", [0, 51])
def test_uploads_of_0_or_over_50_files_are_422(api, event, count):
    files = [{"filename": f"{i}.jpg", "content_type": "image/jpeg"} for i in range(count)]
    err = assert_error(request_uploads(api, event["code"], files), 422, "validation_error")
    assert error_fields(err) == {"files"}
    assert get_event(api, event["code"])["image_count"] == 0


@pytest.mark.parametrize("content_type", ["image/gif", "text/plain", "image/heic", "IMAGE/JPEG", "", None])
def test_unsupported_content_type_is_422(api, event, content_type):
    files = [{"filename": "a.jpg", "content_type": "image/jpeg"}, {"filename": "b", "content_type": content_type}]
    err = assert_error(request_uploads(api, event["code"], files), 422, "validation_error")
    assert error_fields(err) == {"files.1.content_type"}
    assert get_event(api, event["code"])["image_count"] == 0, "no ticket of the batch is created"


@pytest.mark.parametrize("filename", ["", "   ", "x" * 256])
def test_bad_filename_is_422(api, event, filename):
    files = [{"filename": filename, "content_type": "image/jpeg"}]
    err = assert_error(request_uploads(api, event["code"], files), 422, "validation_error")
    assert error_fields(err) == {"files.0.filename"}
