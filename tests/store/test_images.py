"""``kanta.store.images``, the one writer of ``images``, ``faces``, ``deleted_blobs`` and
``erased_descriptors``, tested directly against real PostgreSQL: upload tickets and what
arrival charges, deletes that leave tombstones, and the do-not-index list."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np

from kanta.db import connection
from kanta.faces import DESCRIPTOR_DIM
from kanta.store import events as event_store
from kanta.store import images as store


def _ticket(code: str, *, declared: int | None = None, link: int | None = None) -> store.PendingImage:
    image_id = uuid.uuid4()
    return store.PendingImage(image_id, f"{code}/{image_id}.jpg", "party.jpg", "image/jpeg", declared, link)


def test_a_ticket_is_pending_and_deleting_it_leaves_a_tombstone_that_refuses_its_blob(services, event):
    ticket = _ticket(event["code"])
    with connection() as conn:
        event_id = event_store.get_event_id(conn, event["code"])
        store.insert_pending(conn, event_id, [ticket])
        assert store.find_image(conn, ticket.image_id)["status"] == "pending"
        deleted = store.delete_image(conn, ticket.image_id)
        assert deleted == {"image_id": ticket.image_id, "event_code": event["code"], "blob_name": ticket.blob_name}
        assert store.find_image(conn, ticket.image_id) is None
        assert store.delete_image(conn, ticket.image_id) is None
        # The upload URL may still write the blob: it is refused, whenever it was written.
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        assert store.buried_image(conn, ticket.blob_name, later) == ticket.image_id


def test_a_guests_upload_is_charged_its_declared_size_then_its_real_one_once(api, event):
    assert api("create_guest_link", "POST", route={"code": event["code"]}, json_body={})[0] == 201
    with connection() as conn:
        event_id = event_store.get_event_id(conn, event["code"])
        link = conn.execute("SELECT id FROM guest_links WHERE event_id = %s", (event_id,)).fetchone()["id"]
        host, guest = _ticket(event["code"], declared=1000), _ticket(event["code"], declared=1000, link=link)
        store.insert_pending(conn, event_id, [host, guest])
        # The host's upload is never charged; the guest's was charged what it declared.
        assert store.charge_arrival(conn, host.image_id, 1500).charged_bytes is None
        first = store.charge_arrival(conn, guest.image_id, 1500)
        again = store.charge_arrival(conn, guest.image_id, 1500)  # a second delivery
        assert (first.declared_bytes, first.guest_link_id, first.charged_bytes) == (1000, link, 1000)
        assert again.charged_bytes == 1500  # charged the real size once: nothing more to correct
        assert store.charge_arrival(conn, uuid.uuid4(), 10) is None


def test_the_do_not_index_list_keeps_descriptors_as_given(services, event):
    rng = np.random.default_rng(7)
    erased = rng.normal(size=(3, DESCRIPTOR_DIM)).astype(np.float32)
    with connection() as conn:
        event_id = event_store.get_event_id(conn, event["code"])
        assert store.do_not_index(conn, event_id).shape == (0, DESCRIPTOR_DIM)
        store.add_do_not_index(conn, event_id, erased[:2])
        store.add_do_not_index(conn, event_id, erased[2:])
        store.add_do_not_index(conn, event_id, erased[:0])
        kept = store.do_not_index(conn, event_id)
    assert kept.dtype == np.float32
    np.testing.assert_array_equal(kept, erased)
