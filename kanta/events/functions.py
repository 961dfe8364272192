"""HTTP triggers of the events API (function-key auth). Logic lives in ``service``; an event's
delete in ``kanta.privacy.service``, with every other erasure."""

from __future__ import annotations

import functools

import azure.functions as func

from kanta.endpoints import endpoint
from kanta.events import service
from kanta.events.schemas import Event, EventCode, EventCreate, EventList, EventListQuery, EventUpdate
from kanta.privacy import service as privacy

bp = func.Blueprint()
events = functools.partial(endpoint, bp, tag="events")


@events("create_event", "POST", "events", summary="Create an event", responses={201: Event},
        errors=("event_exists",))
def create_event(body: EventCreate) -> Event:
    """Create an event; its code is the key of every other route."""
    return service.create_event(body)


@events("list_events", "GET", "events", summary="List events, newest first", responses={200: EventList})
def list_events(query: EventListQuery) -> EventList:
    """One page of events, newest first, optionally only running (or not running) ones."""
    return service.list_events(query)


@events("get_event", "GET", "events/{code}", summary="Get an event", responses={200: Event},
        errors=("event_not_found",))
def get_event(code: EventCode) -> Event:
    """The event with its counts of photos, faces and people."""
    return service.get_event(code)


@events("update_event", "PATCH", "events/{code}", summary="Change an event", responses={200: Event},
        errors=("event_not_found", "validation_error"))
def update_event(code: EventCode, body: EventUpdate) -> Event:
    """Change the fields the body names; an absent field stays as it is."""
    return service.update_event(code, body)


@events("delete_event", "DELETE", "events/{code}", summary="Delete an event, its photos and faces",
        responses={204: None}, errors=("event_not_found",))
def delete_event(code: EventCode) -> None:
    """Delete the event with its photos (blobs and rows) and faces."""
    privacy.delete_event(code)
