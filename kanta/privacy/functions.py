"""Triggers of privacy: the host's erasure of a person (HTTP, function key) and the hourly
retention timer. Logic lives in ``service``; guests' "forget my face" is a guest route
(``kanta.guests``) over ``service.forget_face``."""

from __future__ import annotations

import logging

import azure.functions as func

from kanta.clusters.schemas import ClusterId
from kanta.endpoints import endpoint
from kanta.privacy import service
from kanta.privacy.schemas import ForgetResult
from kanta.validation import EventCode

log = logging.getLogger(__name__)

bp = func.Blueprint()


@endpoint(bp, "erase_person", "POST", "events/{code}/clusters/{cluster_id}/erase", tag="privacy",
          summary="Erase a person's faces from the event", responses={200: ForgetResult},
          errors=("event_not_found", "cluster_not_found", "people_busy", "faces_busy", "storage_unavailable"))
def erase_person(code: EventCode, cluster_id: ClusterId) -> ForgetResult:
    """Erase every face of the person (descriptor, thumbnail, place in people, name) and every
    face within the search's face cut of one of theirs; their descriptors keep their face out
    of photos uploaded later, and the event's ``erased_face_count`` grows. Nothing is erased
    when it answers 503: try again."""
    return service.erase_person(code, cluster_id)


@bp.function_name("retention_timer")
@bp.timer_trigger(arg_name="timer", schedule="0 45 * * * *", run_on_startup=False)
def retention_timer(timer: func.TimerRequest) -> None:
    """Timer, hourly: delete the face data (and, if the event says so, the photos) of events
    whose retention has ended (``kanta.privacy.service.purge_expired``). Database errors
    raise; the next run tries again."""
    service.purge_expired()
