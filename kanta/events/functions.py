"""HTTP triggers of the events API (function-key auth). Logic lives in ``service``."""

from __future__ import annotations

import azure.functions as func

from kanta.events import service
from kanta.events.schemas import Event, EventCode, EventCreate, EventList, EventListQuery, EventUpdate
from kanta.http import api, json_response, no_content, parse_json, parse_query
from kanta.openapi import operation

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name("create_event")
@bp.route(route="events", methods=["POST"])
@operation(summary="Create an event", tag="events", body=EventCreate, responses={201: Event},
           errors=("event_exists",))
@api
def create_event(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/events`` → 201 event; 409 ``event_exists``; 422 ``validation_error``."""
    return json_response(service.create_event(parse_json(req, EventCreate)), 201)


@bp.function_name("list_events")
@bp.route(route="events", methods=["GET"])
@operation(summary="List events, newest first", tag="events", query=EventListQuery, responses={200: EventList})
@api
def list_events(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/events?running=true|false&limit=50&offset=0`` → ``{items: [event], next_offset}``."""
    return json_response(service.list_events(parse_query(req, EventListQuery)))


@bp.function_name("get_event")
@bp.route(route="events/{code}", methods=["GET"])
@operation(summary="Get an event", tag="events", path={"code": EventCode}, responses={200: Event},
           errors=("event_not_found",))
@api
def get_event(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/events/{code}`` → event; 404 ``event_not_found``."""
    return json_response(service.get_event(req.route_params["code"]))


@bp.function_name("update_event")
@bp.route(route="events/{code}", methods=["PATCH"])
@operation(summary="Change an event", tag="events", path={"code": EventCode}, body=EventUpdate,
           responses={200: Event}, errors=("event_not_found", "validation_error"))
@api
def update_event(req: func.HttpRequest) -> func.HttpResponse:
    """``PATCH /api/events/{code}`` → event; 404; 422."""
    return json_response(service.update_event(req.route_params["code"], parse_json(req, EventUpdate)))


@bp.function_name("delete_event")
@bp.route(route="events/{code}", methods=["DELETE"])
@operation(summary="Delete an event, its photos and faces", tag="events", path={"code": EventCode},
           responses={204: None}, errors=("event_not_found",))
@api
def delete_event(req: func.HttpRequest) -> func.HttpResponse:
    """``DELETE /api/events/{code}`` → 204; removes its blobs, images and faces; 404."""
    service.delete_event(req.route_params["code"])
    return no_content()
