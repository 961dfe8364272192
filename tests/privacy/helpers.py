"""Helpers of the privacy tests: an event's faces and do-not-index list as stored, time
passing for an event, and erasures through the service and the host route."""

from __future__ import annotations

from typing import Any

from kanta.db import connection
from tests.helpers import Api, photo


def stored_faces(code: str) -> list[dict[str, Any]]:
    """Every face row of event ``code``: ``id``, photo blob name (without the code),
    ``cluster_id``, ``thumbnail_blob``, by id."""
    with connection() as conn:
        return conn.execute(
            """SELECT f.id, split_part(i.blob_name, '/', 2) AS blob, f.cluster_id, f.thumbnail_blob
               FROM faces f JOIN images i ON i.id = f.image_id JOIN events e ON e.id = f.event_id
               WHERE e.code = %s ORDER BY f.id""", (code,)).fetchall()


def faces_by_photo(code: str) -> dict[str, int]:
    """Stored faces of each photo of event ``code`` (by blob name without the code), as
    ``images.face_count`` says; photos with none included."""
    with connection() as conn:
        return {r["blob"]: r["face_count"] for r in conn.execute(
            """SELECT split_part(i.blob_name, '/', 2) AS blob, i.face_count FROM images i
               JOIN events e ON e.id = i.event_id WHERE e.code = %s""", (code,))}


def listed_count(code: str) -> int:
    """Descriptors in the do-not-index list of event ``code``."""
    with connection() as conn:
        return conn.execute("""SELECT count(*) AS n FROM erased_descriptors d JOIN events e ON e.id = d.event_id
                               WHERE e.code = %s""", (code,)).fetchone()["n"]


def age_event(code: str, days: float) -> None:
    """Make event ``code`` and its photos ``days`` older: its times, creation, retention start
    and its photos' tickets move back (time passing, without waiting for it)."""
    with connection() as conn:
        shift = {"code": code, "days": days}
        conn.execute(
            """UPDATE events SET created_at = created_at - make_interval(days => %(days)s),
                   retention_from = retention_from - make_interval(days => %(days)s),
                   starts_at = starts_at - make_interval(days => %(days)s),
                   ends_at = ends_at - make_interval(days => %(days)s)
               WHERE code = %(code)s""", shift)
        conn.execute(
            """UPDATE images i SET created_at = i.created_at - make_interval(days => %(days)s)
               FROM events e WHERE e.id = i.event_id AND e.code = %(code)s""", shift)


def erase(api: Api, code: str, cluster_id: int) -> tuple[int, Any]:
    """``POST events/{code}/clusters/{cluster_id}/erase`` as the host."""
    return api("erase_person", "POST", route={"code": code, "cluster_id": str(cluster_id)})


def event_of(api: Api, code: str) -> dict[str, Any]:
    """``GET events/{code}``; asserts 200."""
    status, body = api("get_event", route={"code": code})
    assert status == 200, body
    return body


def forget(code: str, selfie: str | bytes) -> Any:
    """``kanta.privacy.service.forget_face`` with a tests/data photo (or bytes)."""
    from kanta.privacy.service import forget_face

    return forget_face(code, photo(selfie) if isinstance(selfie, str) else selfie)


def names(code: str) -> list[str]:
    """Names of the people of event ``code`` as stored (``clusters``)."""
    with connection() as conn:
        return [r["name"] for r in conn.execute(
            "SELECT c.name FROM clusters c JOIN events e ON e.id = c.event_id WHERE e.code = %s", (code,))]
