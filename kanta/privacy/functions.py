"""Triggers of privacy: the host's erasure of a person (HTTP, function key) and the hourly
retention timer. Logic lives in ``service``; guests' "forget my face" is a guest route
(``kanta.guests``) over ``service.forget_face``."""

from __future__ import annotations

import logging

import azure.functions as func

from kanta.events.schemas import EventCode
from kanta.http import api, json_response, route_int
from kanta.openapi import RouteInt, operation
from kanta.privacy import service
from kanta.privacy.schemas import ForgetResult

log = logging.getLogger(__name__)

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name("erase_person")
@bp.route(route="events/{code}/clusters/{cluster_id}/erase", methods=["POST"])
@operation(summary="Erase a person's faces from the event", tag="privacy", responses={200: ForgetResult},
           path={"code": EventCode, "cluster_id": RouteInt},
           errors=("event_not_found", "cluster_not_found", "people_busy", "faces_busy", "storage_unavailable"))
@api
def erase_person(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/events/{code}/clusters/{cluster_id}/erase`` → ``{erased, message}``: every
    face of the person (descriptor, thumbnail, place in people, name) and every face within
    the search's face cut of one of theirs is erased, and their descriptors keep their face
    out of photos uploaded later; the event's ``erased_face_count`` grows. 404
    ``event_not_found`` / ``cluster_not_found``; 503 ``people_busy`` / ``faces_busy`` /
    ``storage_unavailable`` (nothing erased; try again)."""
    return json_response(service.erase_person(req.route_params["code"], route_int(req, "cluster_id", "cluster")))


@bp.function_name("retention_timer")
@bp.timer_trigger(arg_name="timer", schedule="0 45 * * * *", run_on_startup=False)
def retention_timer(timer: func.TimerRequest) -> None:
    """Timer, hourly: delete the face data (and, if the event says so, the photos) of events
    whose retention has ended (``kanta.privacy.service.purge_expired``). Database errors
    raise; the next run tries again."""
    service.purge_expired()
