"""Triggers of the clusters domain: the re-clustering timer, an on-demand run and listing."""

from __future__ import annotations

import logging

import azure.functions as func

from kanta.clusters import service
from kanta.clusters.schemas import ClusterListQuery
from kanta.config import RECLUSTER_SCHEDULE_SETTING
from kanta.http import api, json_response, parse_query

log = logging.getLogger(__name__)

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name("recluster_timer")
@bp.timer_trigger(arg_name="timer", schedule=f"%{RECLUSTER_SCHEDULE_SETTING}%", run_on_startup=False)
def recluster_timer(timer: func.TimerRequest) -> None:
    """Timer (schedule from app setting ``KANTA_RECLUSTER_SCHEDULE``, six-field NCRONTAB,
    default every 10 minutes): re-cluster running events whose faces changed. Database
    errors raise; the next tick tries again."""
    if timer.past_due:
        log.info("recluster timer is past due")
    service.recluster_due_events()


@bp.function_name("recluster_event")
@bp.route(route="events/{code}/recluster", methods=["POST"])
@api
def recluster_event(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/events/{code}/recluster`` → 200 run summary; 404."""
    return json_response(service.recluster_event(req.route_params["code"]))


@bp.function_name("list_clusters")
@bp.route(route="events/{code}/clusters", methods=["GET"])
@api
def list_clusters(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/events/{code}/clusters?sample_size=3`` → ``{items, noise_count,
    unclustered_count, last_clustered_at}``; 404; 422."""
    query = parse_query(req, ClusterListQuery)
    return json_response(service.list_clusters(req.route_params["code"], query.sample_size))
