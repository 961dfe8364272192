"""The photo lifecycle against real PostgreSQL, Azurite and dlib: pending → indexing →
processed | failed, and deleted for good. A delete that races an indexing run (before it,
while it finds faces, while it writes its result), an event deleted while its photos are
indexed, and an old event's upload URL used after a new event took its code: nothing comes
back, nothing is left in storage.

The races are made, not waited for: the blob trigger runs in a thread, held at one point of
its run by wrapping one of Kanta's own functions (``analyse_image``, ``write_thumbnails``,
``save_processed``) until the test has done its part.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers import age_tombstone, browser_put, photo, run_blob_trigger, upload_ticket

#: Seconds any step of these tests may wait for another thread before the test fails.
WAIT_S = 60


def uploaded(api, code: str, name: str) -> dict[str, Any]:
    """A photo of tests/data uploaded through a ticket of event ``code`` (not indexed yet)."""
    upload = upload_ticket(api, code)
    assert browser_put(upload, photo(name)) == 201
    return upload


def blob_exists(name: str) -> bool:
    from kanta.storage import uploads_container

    return uploads_container().get_blob_client(name).exists()


def thumbnails(prefix: str) -> list[str]:
    from kanta.storage import faces_container

    return [b.name for b in faces_container().list_blobs(name_starts_with=prefix)]


def uploads(prefix: str) -> list[str]:
    from kanta.storage import uploads_container

    return [b.name for b in uploads_container().list_blobs(name_starts_with=prefix)]


def sql_count(query: str, *args: Any) -> int:
    from kanta.db import connection

    with connection() as conn:
        return conn.execute(query, args).fetchone()["n"]


class Background(threading.Thread):
    """Runs ``target`` in a thread and keeps what it raised."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.target, self.error = target, None

    def run(self) -> None:
        try:
            self.target()
        except BaseException as exc:  # noqa: BLE001 - handed to the test by result()
            self.error = exc

    def result(self) -> None:
        self.join(WAIT_S)
        assert not self.is_alive(), "the thread did not finish"
        if self.error:
            raise self.error


class Hold:
    """Holds every call of a wrapped function (before or after it ran) until ``release``."""

    def __init__(self) -> None:
        self.reached, self.go = threading.Event(), threading.Event()

    def wrap(self, real: Callable, *, after: bool = False) -> Callable:
        def held(*args: Any, **kwargs: Any) -> Any:
            if not after:
                self.reached.set()
                assert self.go.wait(WAIT_S)
            result = real(*args, **kwargs)
            if after:
                self.reached.set()
                assert self.go.wait(WAIT_S)
            return result

        return held

    def wait(self) -> None:
        assert self.reached.wait(WAIT_S), "the indexing run never reached the held point"

    def release(self) -> None:
        self.go.set()


@pytest.fixture
def hold() -> Iterator[Hold]:
    held = Hold()
    yield held
    held.release()  # never leave a thread waiting


MOMENTS = {
    # While dlib finds its faces: before any thumbnail is written.
    "while-finding-faces": ("kanta.faces.pipeline", "analyse_image", False),
    # After its thumbnails are in storage, before its result is written.
    "after-writing-thumbnails": ("kanta.storage", "write_thumbnails", True),
}


def hold_at(monkeypatch, hold: Hold, moment: str) -> None:
    import importlib

    module_name, attribute, after = MOMENTS[moment]
    module = importlib.import_module(module_name)
    monkeypatch.setattr(module, attribute, hold.wrap(getattr(module, attribute), after=after))


def delete_waits_for(run: Background, delete: Background, hold: Hold) -> None:
    """Start ``delete`` while ``run`` is held inside its result's transaction: the delete must
    wait for that transaction; then let both finish."""
    delete.start()
    delete.join(1.0)
    assert delete.is_alive(), "the delete should wait for the run's transaction"
    hold.release()
    run.result()
    delete.result()


def assert_gone_for_good(api, upload: dict[str, Any], event_code: str) -> None:
    """The photo is deleted and stays so: 404, no face, no thumbnail, no blob."""
    image_id = upload["image_id"]
    assert api("get_image", route={"image_id": image_id})[0] == 404
    assert sql_count("SELECT count(*) AS n FROM faces WHERE image_id = %s", uuid.UUID(image_id)) == 0
    assert sql_count("SELECT count(*) AS n FROM images WHERE blob_name = %s", upload["blob_name"]) == 0
    assert thumbnails(f"{event_code}/{image_id}/") == []
    assert not blob_exists(upload["blob_name"])


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_a_photo_deleted_while_it_is_indexed_stays_deleted(api, functions, event, monkeypatch, hold, moment):
    code = event["code"]
    kept = uploaded(api, code, "obama_1.jpg")
    run_blob_trigger(functions, kept["blob_name"])
    deleted = uploaded(api, code, "obama_2.jpg")
    hold_at(monkeypatch, hold, moment)
    run = Background(lambda: run_blob_trigger(functions, deleted["blob_name"]))
    run.start()
    hold.wait()
    assert api("get_image", route={"image_id": deleted["image_id"]})[1]["status"] == "indexing"
    assert api("delete_image", "DELETE", route={"image_id": deleted["image_id"]})[0] == 204
    hold.release()
    run.result()  # returns normally: nothing to retry

    assert_gone_for_good(api, deleted, code)
    # A selfie of the same man finds the photo that was kept, never the deleted one.
    status, found = api("search_event", "POST", route={"code": code}, body=photo("obama_3.jpg"))
    assert status == 200, found
    assert {m["image_id"] for m in found["matches"]} == {kept["image_id"]}
    assert api("get_event", route={"code": code})[1]["face_count"] == 1
    # A late or repeated delivery of the same blob event changes nothing.
    run_blob_trigger(functions, deleted["blob_name"])
    assert_gone_for_good(api, deleted, code)


def test_a_photo_deleted_while_its_result_is_written_stays_deleted(api, functions, event, monkeypatch, hold):
    """The delete waits for the run's transaction (the image row is locked), then removes
    everything it wrote."""
    from kanta.store import images as store

    upload = uploaded(api, event["code"], "biden_1.jpg")
    monkeypatch.setattr(store, "save_processed", hold.wrap(store.save_processed, after=True))
    run = Background(lambda: run_blob_trigger(functions, upload["blob_name"]))
    run.start()
    hold.wait()  # the faces are written, not committed
    delete = Background(lambda: api("delete_image", "DELETE", route={"image_id": upload["image_id"]}))
    delete_waits_for(run, delete, hold)
    assert_gone_for_good(api, upload, event["code"])


def test_a_photo_deleted_before_its_trigger_runs_cannot_be_uploaded_again(api, functions, event):
    """The upload URL outlives the delete and may create the blob again (create-only allows
    it, the blob being gone): the trigger deletes it instead of indexing it."""
    upload = uploaded(api, event["code"], "kit_harington_1.jpg")
    assert api("delete_image", "DELETE", route={"image_id": upload["image_id"]})[0] == 204
    assert not blob_exists(upload["blob_name"])
    assert browser_put(upload, photo("kit_harington_1.jpg")) == 201
    run_blob_trigger(functions, upload["blob_name"])
    assert_gone_for_good(api, upload, event["code"])
    assert api("get_event", route={"code": event["code"]})[1]["image_count"] == 0


def test_a_photo_of_another_client_deleted_while_indexed_stays_deleted_and_may_be_uploaded_again(
        api, functions, event, monkeypatch, hold):
    """A blob written by a client with storage access (no upload URL, so its own name): the
    run that raced the delete brings nothing back, while the client may upload the name again
    afterwards, which is a new photo."""
    from tests.helpers import put_blob

    code = event["code"]
    name = f"{code}/IMG_0001.JPG"
    put_blob(name, photo("obama_1.jpg"))
    hold_at(monkeypatch, hold, "while-finding-faces")
    run = Background(lambda: run_blob_trigger(functions, name))
    run.start()
    hold.wait()
    (first,) = api("list_images", route={"code": code})[1]["items"]
    assert api("delete_image", "DELETE", route={"image_id": first["image_id"]})[0] == 204
    hold.release()
    run.result()
    assert_gone_for_good(api, {"image_id": first["image_id"], "blob_name": name}, code)

    age_tombstone(name, 60)  # a minute later: well past any clock skew between storage and us
    put_blob(name, photo("obama_2.jpg"))
    run_blob_trigger(functions, name)
    (again,) = api("list_images", route={"code": code})[1]["items"]
    assert (again["blob_name"], again["status"], again["face_count"]) == (name, "processed", 1)

    # A day later the old photo's tombstone goes, and the new photo's blob and thumbnails stay.
    from azure.functions.timer import TimerRequest

    age_tombstone(name, 25 * 3600)
    functions["purge_tombstones_timer"](TimerRequest())
    assert sql_count("SELECT count(*) AS n FROM deleted_blobs WHERE blob_name = %s", name) == 0
    assert blob_exists(name) and len(thumbnails(f"{code}/{again['image_id']}/")) == 1
    assert api("get_image", route={"image_id": again["image_id"]})[1]["status"] == "processed"


def test_an_event_deleted_while_its_photos_are_indexed_leaves_nothing(api, functions, monkeypatch, hold):
    code = f"gone-{uuid.uuid4().hex[:10]}"
    assert api("create_event", "POST", json_body={"code": code})[0] == 201
    first, second = uploaded(api, code, "group_biden_obama.jpg"), uploaded(api, code, "rose_leslie_1.jpg")
    run_blob_trigger(functions, first["blob_name"])
    assert thumbnails(f"{code}/") != []
    hold_at(monkeypatch, hold, "while-finding-faces")
    run = Background(lambda: run_blob_trigger(functions, second["blob_name"]))
    run.start()
    hold.wait()
    assert api("delete_event", "DELETE", route={"code": code})[0] == 204
    hold.release()
    run.result()

    assert api("get_event", route={"code": code})[0] == 404
    for upload in (first, second):
        assert api("get_image", route={"image_id": upload["image_id"]})[0] == 404
    assert thumbnails(f"{code}/") == [], "face thumbnails with no row"
    assert uploads(f"{code}/") == []
    assert sql_count("SELECT count(*) AS n FROM images WHERE blob_name LIKE %s", f"{code}/%") == 0


def test_an_event_deleted_while_a_run_writes_its_result_waits_for_it_then_removes_everything(
        api, functions, monkeypatch, hold):
    """The run holds its photo's row while it assigns the new faces to people; the event's
    delete waits for it (it does not deadlock with it), then removes what it wrote."""
    from kanta.images import ingest

    code = f"gone-{uuid.uuid4().hex[:10]}"
    assert api("create_event", "POST", json_body={"code": code})[0] == 201
    upload = uploaded(api, code, "obama_3.jpg")
    monkeypatch.setattr(ingest, "people_for_faces", hold.wrap(ingest.people_for_faces))
    run = Background(lambda: run_blob_trigger(functions, upload["blob_name"]))
    run.start()
    hold.wait()
    delete = Background(lambda: api("delete_event", "DELETE", route={"code": code}))
    delete_waits_for(run, delete, hold)
    assert api("get_event", route={"code": code})[0] == 404
    assert_gone_for_good(api, upload, code)
    assert thumbnails(f"{code}/") == [] and uploads(f"{code}/") == []


def test_an_old_events_upload_url_cannot_write_into_a_new_event_with_the_same_code(api, functions):
    code = f"reused-{uuid.uuid4().hex[:10]}"
    assert api("create_event", "POST", json_body={"code": code, "name": "First"})[0] == 201
    old = upload_ticket(api, code)  # a guest asked for a URL, and the event was deleted
    assert api("delete_event", "DELETE", route={"code": code})[0] == 204
    assert api("create_event", "POST", json_body={"code": code, "name": "Second"})[0] == 201
    mine = uploaded(api, code, "obama_1.jpg")
    run_blob_trigger(functions, mine["blob_name"])

    assert browser_put(old, photo("rose_leslie_2.jpg")) == 201  # the URL is still valid
    run_blob_trigger(functions, old["blob_name"])

    assert api("get_image", route={"image_id": old["image_id"]})[0] == 404
    assert not blob_exists(old["blob_name"])
    items = api("list_images", route={"code": code})[1]["items"]
    assert [i["image_id"] for i in items] == [mine["image_id"]]
    assert api("get_event", route={"code": code})[1]["face_count"] == 1
    assert blob_exists(mine["blob_name"]), "the new event's own photos stay"


def test_tombstones_are_purged_after_a_day_and_take_leftovers_with_them(api, functions, event):
    """What a dead run left in storage after the delete (a thumbnail written after the delete
    removed the others; the photo created again and never triggered) is removed when the
    photo's tombstone is purged."""
    from azure.functions.timer import TimerRequest

    from kanta.storage import faces_container, uploads_container

    upload = uploaded(api, event["code"], "biden_2.jpg")
    run_blob_trigger(functions, upload["blob_name"])
    assert api("delete_image", "DELETE", route={"image_id": upload["image_id"]})[0] == 204
    leftover_thumbnail = f"{event['code']}/{upload['image_id']}/0.jpg"
    faces_container().upload_blob(leftover_thumbnail, b"jpeg", overwrite=True)
    uploads_container().upload_blob(upload["blob_name"], photo("biden_2.jpg"), overwrite=True)

    functions["purge_tombstones_timer"](TimerRequest())
    assert sql_count("SELECT count(*) AS n FROM deleted_blobs WHERE blob_name = %s", upload["blob_name"]) == 1
    age_tombstone(upload["blob_name"], 25 * 3600)  # a day passes
    functions["purge_tombstones_timer"](TimerRequest())

    assert sql_count("SELECT count(*) AS n FROM deleted_blobs WHERE blob_name = %s", upload["blob_name"]) == 0
    assert thumbnails(f"{event['code']}/{upload['image_id']}/") == []
    assert not blob_exists(upload["blob_name"])
