"""Helpers of the search tests: photos into an event through the blob trigger, selfie search
and people corrections through the HTTP functions, faces by photo."""

from __future__ import annotations

from typing import Any

from kanta.db import connection
from tests.helpers import Api, photo, put_blob, run_blob_trigger

#: A photo of Obama not uploaded to the events below (tests/data/labels.csv).
SELFIE = "obama_4_480p.jpg"


def add_photos(functions: dict, code: str, photos: dict[str, bytes] | list[str]) -> None:
    """Upload photos to event ``code`` and index them as the blob trigger does: a list of
    tests/data names, or blob names → bytes."""
    blobs = photos if isinstance(photos, dict) else {n: photo(n) for n in photos}
    for name, data in blobs.items():
        put_blob(f"{code}/{name}", data)
        run_blob_trigger(functions, f"{code}/{name}")


def search(api: Api, code: str, selfie: bytes | str = SELFIE, **params: Any) -> dict[str, Any]:
    """``POST events/{code}/search`` with ``selfie`` (bytes or a tests/data name); asserts 200."""
    body = photo(selfie) if isinstance(selfie, str) else selfie
    status, result = api("search_event", "POST", route={"code": code}, body=body,
                         params={k: str(v) for k, v in params.items()})
    assert status == 200, result
    return result


def recluster(api: Api, code: str) -> dict[str, Any]:
    """Re-cluster event ``code`` now; asserts the run was done."""
    status, run = api("recluster_event", "POST", route={"code": code})
    assert status == 200 and run["status"] == "done", run
    return run


def image_ids(code: str) -> dict[str, str]:
    """Image id (as text) of each indexed blob of event ``code``, by blob name without the event code."""
    with connection() as conn:
        rows = conn.execute(
            "SELECT i.blob_name, i.id FROM images i JOIN events e ON e.id = i.event_id WHERE e.code = %s", (code,))
        return {r["blob_name"].split("/", 1)[1]: str(r["id"]) for r in rows}


def face_of(api: Api, code: str, blob: str) -> dict[str, Any]:
    """The only face of photo ``blob`` of event ``code``, as ``GET images/{id}`` shows it."""
    status, image = api("get_image", route={"image_id": image_ids(code)[blob]})
    assert status == 200, image
    (face,) = image["faces"]
    return face


def photos_found(result: dict[str, Any], code: str) -> list[str]:
    """Blob names (without the event code) of the photos a search returned, in its order."""
    names = {v: k for k, v in image_ids(code).items()}
    return [names[m["image_id"]] for m in result["matches"]]


def event_id(code: str) -> int:
    with connection() as conn:
        return conn.execute("SELECT id FROM events WHERE code = %s", (code,)).fetchone()["id"]
