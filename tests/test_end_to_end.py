"""End to end through the function objects of ``function_app``: create an event, get upload
URLs, PUT real photos to those SAS URLs on Azurite, run the blob trigger for each blob,
run the re-clustering timer, then check people and selfie search. Real PostgreSQL,
Azurite and dlib; only the Functions host is stood in for (we call its function objects)."""

from __future__ import annotations

import csv
from collections import defaultdict

import requests
from azure.functions.timer import TimerRequest

from tests.helpers import DATA, photo, run_blob_trigger

#: Photos uploaded to the event; obama_4_480p.jpg is kept back as the selfie.
UPLOADED = [
    "obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "biden_1.jpg", "biden_2.jpg",
    "kit_harington_1.jpg", "kit_harington_2.jpg", "rose_leslie_1.jpg", "rose_leslie_2.jpg",
    "alex_lacamoire_1.jpg", "alex_lacamoire_2.png", "group_biden_obama.jpg", "lin_manuel_miranda_1.png",
]
SELFIE = "obama_4_480p.jpg"
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png"}


def labels() -> dict[str, list[str]]:
    with open(DATA / "labels.csv") as f:
        return {row["file"]: row["identities"].split(";") for row in csv.DictReader(f)}


def upload_all(api, event_code: str) -> dict[str, dict]:
    """Request upload URLs and PUT each photo to its SAS URL as a browser would."""
    status, body = api("create_uploads", "POST", route={"code": event_code}, json_body={
        "files": [{"filename": n, "content_type": CONTENT_TYPES[n.rsplit(".", 1)[1]]} for n in UPLOADED]
    })
    assert status == 201, body
    tickets = dict(zip(UPLOADED, body["uploads"]))
    for name, ticket in tickets.items():
        assert ticket["method"] == "PUT"
        resp = requests.put(ticket["upload_url"], data=photo(name), headers=ticket["headers"], timeout=30)
        assert resp.status_code == 201, resp.text
    return tickets


def test_photos_become_searchable_people(api, functions, event):
    code = event["code"]
    tickets = upload_all(api, code)

    # Uploaded, not yet processed: listed as pending, with no read URL.
    status, page = api("list_images", route={"code": code}, params={"status": "pending"})
    assert status == 200 and len(page["items"]) == len(UPLOADED)
    assert all(item["url"] is None for item in page["items"])

    for ticket in tickets.values():
        run_blob_trigger(functions, ticket["blob_name"])
    functions["recluster_timer"](TimerRequest(past_due=False))

    # Every image processed with its expected face count; faces carry their person's cluster.
    truth = labels()
    faces_by_person: dict[str, list[dict]] = defaultdict(list)
    for name, ticket in tickets.items():
        status, image = api("get_image", route={"image_id": ticket["image_id"]})
        assert status == 200 and image["status"] == "processed", image
        assert image["face_count"] == len(truth[name]) == len(image["faces"]), name
        assert image["width"] > 0 and image["processing_seconds"] > 0
        if len(truth[name]) == 1:
            faces_by_person[truth[name][0]].extend(image["faces"])
        # The read URL serves the very bytes that were uploaded.
        assert requests.get(image["url"], timeout=30).content == photo(name)

    cluster_of = {}
    for person, faces in faces_by_person.items():
        ids = {f["cluster_id"] for f in faces}
        # Alex Lacamoire's two photos are 0.52 apart: under KANTA_CLUSTER_EPS, one person.
        if len(faces) >= 2:
            assert len(ids) == 1 and next(iter(ids)) >= 0, (person, ids)
            cluster_of[person] = ids.pop()
    # Different people, different clusters.
    assert len(set(cluster_of.values())) == len(cluster_of)
    # The group photo's two faces join Obama's and Biden's clusters.
    _, group = api("get_image", route={"image_id": tickets["group_biden_obama.jpg"]["image_id"]})
    assert {f["cluster_id"] for f in group["faces"]} == {cluster_of["obama"], cluster_of["biden"]}

    # The clusters endpoint shows those people, largest (Obama: 4 faces) first.
    status, clusters = api("list_clusters", route={"code": code}, params={"sample_size": "2"})
    assert status == 200
    assert clusters["items"][0]["cluster_id"] == cluster_of["obama"]
    assert clusters["items"][0]["face_count"] == 4
    assert {c["cluster_id"] for c in clusters["items"]} == set(cluster_of.values())
    assert all(1 <= len(c["samples"]) <= 2 for c in clusters["items"])
    assert clusters["noise_count"] == 1  # Lin-Manuel Miranda: one photo
    assert clusters["last_clustered_at"] is not None

    # Filtering images by cluster gives exactly that person's photos.
    status, page = api("list_images", route={"code": code}, params={"cluster_id": str(cluster_of["obama"])})
    obama_images = {t["image_id"] for n, t in tickets.items() if "obama" in truth[n]}
    assert {i["image_id"] for i in page["items"]} == obama_images

    # A selfie of Obama (a photo not uploaded) finds Obama's faces first, and only his.
    status, result = api("search_event", "POST", route={"code": code}, body=photo(SELFIE))
    assert status == 200, result
    assert len(result["query_faces"]) == 1 and result["query_faces"][0]["used"]
    assert {m["image_id"] for m in result["matches"]} == obama_images
    assert all(m["cluster_id"] == cluster_of["obama"] for m in result["matches"])
    distances = [m["distance"] for m in result["matches"]]
    assert distances == sorted(distances) and distances[-1] <= 0.6


def test_timer_reclusters_only_changed_events(api, functions, event):
    code = event["code"]
    status, body = api("create_uploads", "POST", route={"code": code},
                       json_body={"files": [{"filename": "a.jpg", "content_type": "image/jpeg"}] * 2})
    assert status == 201, body
    first, second = body["uploads"]
    requests.put(first["upload_url"], data=photo("biden_1.jpg"), headers=first["headers"], timeout=30)
    run_blob_trigger(functions, first["blob_name"])
    timer = functions["recluster_timer"]

    timer(TimerRequest())
    clustered_at = api("get_event", route={"code": code})[1]["last_clustered_at"]
    assert clustered_at is not None
    timer(TimerRequest())  # nothing changed: the event is not re-clustered
    assert api("get_event", route={"code": code})[1]["last_clustered_at"] == clustered_at

    requests.put(second["upload_url"], data=photo("biden_2.jpg"), headers=second["headers"], timeout=30)
    run_blob_trigger(functions, second["blob_name"])
    timer(TimerRequest())
    assert api("get_event", route={"code": code})[1]["last_clustered_at"] > clustered_at
    _, clusters = api("list_clusters", route={"code": code})
    assert [c["face_count"] for c in clusters["items"]] == [2]


def test_events_that_are_not_running_are_left_to_manual_runs(api, functions):
    status, ended = api("create_event", "POST", json_body={
        "code": "ended-event-1", "starts_at": "2020-01-01T10:00:00Z", "ends_at": "2020-01-02T10:00:00Z"})
    assert status == 201 and ended["running"] is False
    from tests.helpers import put_blob

    put_blob("ended-event-1/late.jpg", photo("rose_leslie_1.jpg"))
    run_blob_trigger(functions, "ended-event-1/late.jpg")
    functions["recluster_timer"](TimerRequest())
    assert api("get_event", route={"code": "ended-event-1"})[1]["last_clustered_at"] is None
    status, run = api("recluster_event", "POST", route={"code": "ended-event-1"})
    assert status == 200 and run["status"] == "done" and run["face_count"] == 1
    assert api("get_event", route={"code": "ended-event-1"})[1]["last_clustered_at"] is not None


def test_delete_image_removes_blob_and_faces(api, functions, event):
    from kanta.storage import uploads_container

    _, body = api("create_uploads", "POST", route={"code": event["code"]},
                  json_body={"files": [{"filename": "g.jpg", "content_type": "image/jpeg"}]})
    ticket = body["uploads"][0]
    requests.put(ticket["upload_url"], data=photo("group_biden_obama.jpg"), headers=ticket["headers"], timeout=30)
    run_blob_trigger(functions, ticket["blob_name"])
    assert api("get_event", route={"code": event["code"]})[1]["face_count"] == 2

    assert api("delete_image", "DELETE", route={"image_id": ticket["image_id"]})[0] == 204
    assert api("get_image", route={"image_id": ticket["image_id"]})[0] == 404
    assert api("get_event", route={"code": event["code"]})[1]["face_count"] == 0
    assert not uploads_container().get_blob_client(ticket["blob_name"]).exists()


def test_upload_url_is_write_only_for_one_blob(api, event):
    _, body = api("create_uploads", "POST", route={"code": event["code"]},
                  json_body={"files": [{"filename": "x.png", "content_type": "image/png"}]})
    ticket = body["uploads"][0]
    assert ticket["blob_name"] == f"{event['code']}/{ticket['image_id']}.png"
    assert requests.put(ticket["upload_url"], data=photo("alex_lacamoire_2.png"),
                        headers=ticket["headers"], timeout=30).status_code == 201
    # The same token cannot read the blob back, nor write a different blob.
    assert requests.get(ticket["upload_url"], timeout=30).status_code == 403
    other = ticket["upload_url"].replace(ticket["image_id"], "someone-else")
    assert requests.put(other, data=b"x", headers=ticket["headers"], timeout=30).status_code == 403


def test_blurry_faces_are_recorded_but_kept_out_of_people_and_search(api, functions, event):
    """An uploader sees why a face was skipped; hosts and guests never see it as a person."""
    import io

    from PIL import Image, ImageFilter

    from tests.helpers import put_blob

    code = event["code"]
    blurred = io.BytesIO()
    Image.open(DATA / "obama_1.jpg").filter(ImageFilter.GaussianBlur(4)).save(blurred, "JPEG")
    blobs = {"sharp1": "obama_2.jpg", "sharp2": "obama_3.jpg"}
    for stem, name in blobs.items():
        put_blob(f"{code}/{stem}.jpg", photo(name))
    put_blob(f"{code}/blurred.jpg", blurred.getvalue())
    for stem in [*blobs, "blurred"]:
        run_blob_trigger(functions, f"{code}/{stem}.jpg")
    api("recluster_event", "POST", route={"code": code})

    images = {i["blob_name"]: i for i in api("list_images", route={"code": code})[1]["items"]}
    _, detail = api("get_image", route={"image_id": images[f"{code}/blurred.jpg"]["image_id"]})
    (face,) = detail["faces"]
    assert face["excluded_reason"] == "too_blurry" and face["cluster_id"] is None and face["sharpness"] < 25

    _, clusters = api("list_clusters", route={"code": code})
    assert [c["face_count"] for c in clusters["items"]] == [2] and clusters["excluded_count"] == 1
    # Cluster samples are face thumbnails: small aligned JPEGs, not the full photos.
    sample = clusters["items"][0]["samples"][0]
    thumb = Image.open(io.BytesIO(requests.get(sample["url"], timeout=30).content))
    assert thumb.format == "JPEG" and thumb.size == (160, 160)
    assert requests.get(sample["image_url"], timeout=30).content in {photo(n) for n in blobs.values()}

    _, result = api("search_event", "POST", route={"code": code}, body=photo("obama_1.jpg"))
    assert len(result["matches"]) == 2
    assert all(m["image_id"] != images[f"{code}/blurred.jpg"]["image_id"] for m in result["matches"])
    status, err = api("search_event", "POST", route={"code": code}, body=blurred.getvalue())
    assert status == 422 and err["code"] == "face_unusable"


def test_deleting_an_image_removes_its_thumbnails(api, functions, event):
    from kanta.storage import faces_container
    from tests.helpers import put_blob

    put_blob(f"{event['code']}/g.jpg", photo("group_biden_obama.jpg"))
    run_blob_trigger(functions, f"{event['code']}/g.jpg")
    (image,) = api("list_images", route={"code": event["code"]})[1]["items"]
    prefix = f"{event['code']}/{image['image_id']}/"
    assert len(list(faces_container().list_blobs(name_starts_with=prefix))) == 2
    api("delete_image", "DELETE", route={"image_id": image["image_id"]})
    assert list(faces_container().list_blobs(name_starts_with=prefix)) == []
