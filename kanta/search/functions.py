"""HTTP trigger of selfie search (function key)."""

from __future__ import annotations

import azure.functions as func

from kanta.endpoints import endpoint
from kanta.search import service
from kanta.search.schemas import SearchQuery, SearchResult
from kanta.validation import EventCode

bp = func.Blueprint()


@endpoint(bp, "search_event", "POST", "events/{code}/search", tag="search",
          summary="Find the photos of the people in a selfie", responses={200: SearchResult},
          errors=("event_not_found", "payload_too_large", "face_search_off", "retention_over", "invalid_image",
                  "no_face", "face_unusable"))
def search_event(code: EventCode, query: SearchQuery, body: bytes) -> SearchResult:
    """Find the photos of the people in a photo (JPEG, PNG or WebP bytes): photos of the
    matched people (and of unclustered faces within the face cut) nearest first, each once;
    each person with the distances that matched them."""
    return service.search_event(code, body, query)
