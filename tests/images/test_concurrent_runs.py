"""Two instances index the same blob at once (an at-least-once delivery handed to two
workers, or the blob trigger and the re-drive job together), against real PostgreSQL,
Azurite and dlib: one image, its faces once, one thumbnail per face."""

from __future__ import annotations

import threading
import uuid

from tests.helpers import browser_put, photo, run_blob_trigger, upload_ticket

#: Seconds a run may wait for the other to reach the same point.
WAIT_S = 60


def test_two_runs_of_one_blob_at_once_store_its_faces_once(api, functions, event, monkeypatch):
    from kanta.db import connection
    from kanta.faces import pipeline
    from kanta.storage import faces_container

    upload = upload_ticket(api, event["code"])
    assert browser_put(upload, photo("group_biden_obama.jpg")) == 201
    both_computing = threading.Barrier(2, timeout=WAIT_S)
    real = pipeline.analyse_image

    def analyse_together(*args, **kwargs):
        both_computing.wait()  # neither writes before the other has started
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "analyse_image", analyse_together)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_blob_trigger(functions, upload["blob_name"])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(WAIT_S * 2)
    assert errors == [] and not any(t.is_alive() for t in runs)

    status, image = api("get_image", route={"image_id": upload["image_id"]})
    assert status == 200 and image["status"] == "processed" and image["face_count"] == 2
    with connection() as conn:
        rows = conn.execute("SELECT count(*) AS n FROM faces WHERE image_id = %s",
                            (uuid.UUID(upload["image_id"]),)).fetchone()["n"]
    assert rows == 2
    prefix = f"{event['code']}/{upload['image_id']}/"
    assert len(list(faces_container().list_blobs(name_starts_with=prefix))) == 2
    assert all(f["thumbnail_url"] for f in image["faces"])
