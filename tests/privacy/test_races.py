"""An erasure racing an indexing run, a re-clustering or the event's delete: no erased face
comes back, and a delete leaves nothing. The runs are paused at the point that matters (the
test wraps the function there and waits), the way the people tests race corrections against
a re-clustering."""

from __future__ import annotations

import threading
import time

from kanta.store import images as store
from tests.helpers import event_blobs, face_thumbnails, side_by_side
from tests.privacy.helpers import faces_by_photo, forget, stored_faces
from tests.search.helpers import add_photos, image_ids, recluster

LATER = "later.jpg"


def pause_later(monkeypatch, *, before: bool) -> tuple[threading.Event, threading.Event]:
    """Pause the indexing run of ``LATER`` where it writes its result: just ``before`` it locks
    the photo's event and row, or just after (holding them). Returns (reached, go)."""
    reached, go = threading.Event(), threading.Event()
    later: set = set()
    real_id, real_lock = store.image_id_for_blob, store.lock_for_result

    def image_id_for_blob(conn, blob_name):
        image_id = real_id(conn, blob_name)
        if blob_name.endswith("/" + LATER):
            later.add(image_id)
        return image_id

    def lock_for_result(conn, image_id, event_id, written_at):
        if image_id in later and before:
            reached.set()
            assert go.wait(60)
        row = real_lock(conn, image_id, event_id, written_at)
        if image_id in later and not before:
            reached.set()
            assert go.wait(60)
        return row

    monkeypatch.setattr(store, "image_id_for_blob", image_id_for_blob)
    monkeypatch.setattr(store, "lock_for_result", lock_for_result)
    return reached, go


def index_later(functions, code: str) -> threading.Thread:
    """Index ``LATER`` (Obama and Biden side by side) in a thread, started."""
    thread = threading.Thread(
        target=lambda: add_photos(functions, code, {LATER: side_by_side("obama_2.jpg", "biden_2.jpg")}))
    thread.start()
    return thread


def test_an_erasure_while_a_run_computes_keeps_its_face_out(api, functions, event, monkeypatch):
    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "biden_1.jpg"])
    reached, go = pause_later(monkeypatch, before=True)
    run = index_later(functions, code)
    assert reached.wait(60)  # faces found, thumbnails written, result not written yet
    assert len(face_thumbnails(code)) == 2 + 2
    assert forget(code, "obama_4_480p.jpg").erased == 1
    go.set()
    run.join(60)
    assert faces_by_photo(code)[LATER] == 1
    (biden,) = [f for f in stored_faces(code) if f["blob"] == LATER]
    later_id = image_ids(code)[LATER]
    assert {n for n in face_thumbnails(code) if f"/{later_id}/" in n} == {biden["thumbnail_blob"]}
    assert [f["blob"] for f in stored_faces(code)] == ["biden_1.jpg", LATER]


def test_an_erasure_while_a_run_writes_waits_for_it_and_erases_what_it_wrote(api, functions, event, monkeypatch):
    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "biden_1.jpg"])
    reached, go = pause_later(monkeypatch, before=False)
    run = index_later(functions, code)
    assert reached.wait(60)  # the run holds the photo's event and row
    results = []
    erasure = threading.Thread(target=lambda: results.append(forget(code, "obama_4_480p.jpg")))
    erasure.start()
    time.sleep(1.5)
    assert erasure.is_alive()  # waiting for the run to commit
    go.set()
    run.join(60)
    erasure.join(60)
    assert results[0].erased == 2  # obama_1's face and the one the run wrote
    assert faces_by_photo(code)[LATER] == 1
    later_id = image_ids(code)[LATER]
    (biden,) = [f for f in stored_faces(code) if f["blob"] == LATER]
    assert {n for n in face_thumbnails(code) if f"/{later_id}/" in n} == {biden["thumbnail_blob"]}


def test_an_erasure_during_a_recluster_lands_after_it(api, functions, event, monkeypatch, settings_override):
    # With a face cut of 0.2 the selfie alone is near two of the four Obama faces; once they
    # are one person, all four are erased. The run is paused where it computes, so the
    # erasure arrives while it runs: it must wait and erase the person the run made.
    from kanta.clusters import service

    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "obama_5_small.jpg", "biden_1.jpg"])
    settings_override(KANTA_SEARCH_MAX_DISTANCE=0.2, KANTA_SEARCH_PERSON_MAX_DISTANCE=0.2)
    started, go = threading.Event(), threading.Event()
    real = service.cluster_descriptors

    def slow(*args, **kwargs):
        started.set()
        assert go.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "cluster_descriptors", slow)
    runs = []
    run = threading.Thread(target=lambda: runs.append(api("recluster_event", "POST", route={"code": code})))
    run.start()
    assert started.wait(60)
    results = []
    erasure = threading.Thread(target=lambda: results.append(forget(code, "obama_4_480p.jpg")))
    erasure.start()
    time.sleep(1.5)
    assert erasure.is_alive()  # waiting for the run
    go.set()
    run.join(60)
    erasure.join(60)
    assert runs[0][0] == 200 and runs[0][1]["status"] == "done"
    assert results[0].erased == 4
    assert [f["blob"] for f in stored_faces(code)] == ["biden_1.jpg"]
    monkeypatch.setattr(service, "cluster_descriptors", real)
    recluster(api, code)
    assert [f["blob"] for f in stored_faces(code)] == ["biden_1.jpg"]


def test_an_event_deleted_during_an_erasure_waits_for_it_then_leaves_nothing(api, functions, event, monkeypatch):
    # The erasure holds the event row; the delete (kanta.privacy.service.delete_event) locks it
    # first, so it waits, then removes what the erasure left: no face, thumbnail or photo.
    from kanta.privacy import service

    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "biden_1.jpg"])
    reached, go = threading.Event(), threading.Event()
    real = service.record_erased

    def record_erased(conn, event_id, count):
        real(conn, event_id, count)
        reached.set()
        assert go.wait(60)

    monkeypatch.setattr(service, "record_erased", record_erased)
    erased, deleted = [], []
    erasure = threading.Thread(target=lambda: erased.append(forget(code, "obama_4_480p.jpg")))
    erasure.start()
    assert reached.wait(60)  # faces erased, not committed
    deletion = threading.Thread(target=lambda: deleted.append(api("delete_event", "DELETE", route={"code": code})))
    deletion.start()
    time.sleep(1.5)
    assert deletion.is_alive()  # waiting for the erasure to commit
    go.set()
    erasure.join(60)
    deletion.join(60)
    assert erased[0].erased == 1 and deleted[0][0] == 204
    assert api("get_event", route={"code": code})[0] == 404
    assert face_thumbnails(code) == set() and event_blobs(code) == set()


def test_an_erasure_during_an_event_delete_finds_no_event(api, functions, event, monkeypatch):
    # The delete holds the event row while it buries the photos; an erasure arriving then waits
    # for it and answers event_not_found in Kanta's words, never a 500 or a half-erased event.
    from kanta.errors import NotFound

    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "biden_1.jpg"])
    reached, go = threading.Event(), threading.Event()
    real = store.bury_event_images

    def bury_event_images(conn, event_id):
        buried = real(conn, event_id)
        reached.set()
        assert go.wait(60)
        return buried

    monkeypatch.setattr(store, "bury_event_images", bury_event_images)
    deleted, refused = [], []

    def erase() -> None:
        try:
            forget(code, "obama_4_480p.jpg")
        except NotFound as exc:
            refused.append(exc)

    deletion = threading.Thread(target=lambda: deleted.append(api("delete_event", "DELETE", route={"code": code})))
    deletion.start()
    assert reached.wait(60)
    erasure = threading.Thread(target=erase)
    erasure.start()
    time.sleep(1.5)
    assert erasure.is_alive()  # waiting for the delete to commit
    go.set()
    deletion.join(60)
    erasure.join(60)
    assert deleted[0][0] == 204
    assert [exc.code for exc in refused] == ["event_not_found"]
    assert face_thumbnails(code) == set() and event_blobs(code) == set()
