"""HTTP trigger of selfie search (function key)."""

from __future__ import annotations

import azure.functions as func

from kanta.events.schemas import EventCode
from kanta.http import api, json_response, parse_query
from kanta.openapi import IMAGE_BODY, operation
from kanta.search import service
from kanta.search.schemas import SearchQuery, SearchResult

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name("search_event")
@bp.route(route="events/{code}/search", methods=["POST"])
@operation(summary="Find the photos of the people in a selfie", tag="search", path={"code": EventCode},
           query=SearchQuery, body=IMAGE_BODY, responses={200: SearchResult},
           errors=("event_not_found", "payload_too_large", "face_search_off", "retention_over", "invalid_image",
                   "no_face", "face_unusable"))
@api
def search_event(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/events/{code}/search?top_k=20&max_distance=&person_max_distance=&faces=largest|all``
    with the photo's bytes as the body (JPEG/PNG/WebP) → ``{query_faces, matches, people,
    cuts, reason, message}``: photos of the matched people (and of unclustered faces within
    the face cut) nearest first, each once; each person with the distances that matched them;
    404; 413; 422 ``no_face`` / ``face_unusable`` / ``invalid_image`` / ``validation_error``."""
    query = parse_query(req, SearchQuery)
    return json_response(service.search_event(req.route_params["code"], req.get_body(), query))
