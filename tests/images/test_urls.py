"""Least-privilege URLs, against real Azurite: an upload URL creates its one photo and
nothing else; a read URL serves an accepted photo as the image it is; a failed image has
none."""

from __future__ import annotations

import requests

from tests.helpers import photo, run_blob_trigger, upload_ticket

JPEG_HEADERS = {"x-ms-blob-type": "BlockBlob", "Content-Type": "image/jpeg"}


def test_an_upload_url_cannot_overwrite_or_relabel_the_photo_it_created(api, functions, event):
    upload = upload_ticket(api, event["code"])
    url = upload["upload_url"]
    assert requests.put(url, data=photo("obama_1.jpg"), headers=JPEG_HEADERS, timeout=30).status_code == 201
    # Another person's photo, garbage, or new metadata through the same URL: refused.
    assert requests.put(url, data=photo("biden_1.jpg"), headers=JPEG_HEADERS, timeout=30).status_code == 403
    assert requests.put(url, data=b"garbage", headers=JPEG_HEADERS, timeout=30).status_code == 403
    assert requests.put(url + "&comp=metadata", headers={"x-ms-meta-owner": "me"}, timeout=30).status_code == 403
    run_blob_trigger(functions, upload["blob_name"])
    image = api("get_image", route={"image_id": upload["image_id"]})[1]
    assert image["status"] == "processed" and image["face_count"] == 1
    assert requests.get(image["url"], timeout=30).content == photo("obama_1.jpg")


def test_a_photo_uploaded_as_html_is_served_as_the_image_it_is(api, functions, event):
    upload = upload_ticket(api, event["code"])
    url = upload["upload_url"]
    sent = requests.put(url, data=photo("biden_1.jpg"), timeout=30,
                        headers={"x-ms-blob-type": "BlockBlob", "Content-Type": "text/html"})
    assert sent.status_code == 201
    assert requests.put(url + "&comp=snapshot", timeout=30).status_code == 201  # 'c' allows a snapshot
    run_blob_trigger(functions, upload["blob_name"])
    image = api("get_image", route={"image_id": upload["image_id"]})[1]
    served = requests.get(image["url"], timeout=30)
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    # The snapshot taken through the upload URL is gone with the acceptance.
    from kanta.storage import uploads_container

    listed = list(uploads_container().list_blobs(name_starts_with=upload["blob_name"], include=["snapshots"]))
    assert [b.snapshot for b in listed] == [None]


def test_a_failed_image_has_no_read_url(api, functions, event):
    upload = upload_ticket(api, event["code"])
    assert requests.put(upload["upload_url"], data=b"<html>not a photo</html>", timeout=30,
                        headers={"x-ms-blob-type": "BlockBlob", "Content-Type": "text/html"}).status_code == 201
    run_blob_trigger(functions, upload["blob_name"])
    status, image = api("get_image", route={"image_id": upload["image_id"]})
    assert status == 200 and image["status"] == "failed" and image["url"] is None
    listed = api("list_images", route={"code": event["code"]}, params={"status": "failed"})[1]["items"]
    assert [i["url"] for i in listed] == [None]
