"""Triggers of the clusters domain: the re-clustering timer, an on-demand run and listing."""

from __future__ import annotations

import logging

import azure.functions as func

from kanta.clusters import service
from kanta.clusters.schemas import (
    Cluster,
    ClusterId,
    ClusterList,
    ClusterListQuery,
    ClusterMerge,
    ClusterRun,
    ClusterUpdate,
    FaceAssignment,
    FaceMove,
)
from kanta.config import RECLUSTER_SCHEDULE_SETTING
from kanta.events.schemas import EventCode
from kanta.http import api, json_response, parse_json, parse_query, route_int
from kanta.openapi import RouteInt, operation

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
@operation(summary="Sort an event's faces into people now", tag="clusters", path={"code": EventCode},
           responses={200: ClusterRun}, errors=("event_not_found",))
@api
def recluster_event(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/events/{code}/recluster`` → 200 run summary; 404."""
    return json_response(service.recluster_event(req.route_params["code"]))


@bp.function_name("list_clusters")
@bp.route(route="events/{code}/clusters", methods=["GET"])
@operation(summary="List an event's people, largest first", tag="clusters", path={"code": EventCode},
           query=ClusterListQuery, responses={200: ClusterList}, errors=("event_not_found",))
@api
def list_clusters(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/events/{code}/clusters?sample_size=3&limit=50&offset=0`` → ``{items,
    next_offset, noise_count, unclustered_count, excluded_count, last_clustered_at, last_run}``;
    404; 422."""
    query = parse_query(req, ClusterListQuery)
    return json_response(service.list_clusters(req.route_params["code"], query))


@bp.function_name("update_cluster")
@bp.route(route="events/{code}/clusters/{cluster_id}", methods=["PATCH"])
@operation(summary="Name a person", tag="clusters", path={"code": EventCode, "cluster_id": ClusterId},
           body=ClusterUpdate, responses={200: Cluster}, errors=("event_not_found", "cluster_not_found"))
@api
def update_cluster(req: func.HttpRequest) -> func.HttpResponse:
    """``PATCH /api/events/{code}/clusters/{cluster_id}`` ``{name}`` → the person; 404; 422."""
    body = parse_json(req, ClusterUpdate)
    return json_response(service.rename_cluster(req.route_params["code"], route_int(req, "cluster_id", "cluster"),
                                                body.name))


@bp.function_name("merge_cluster")
@bp.route(route="events/{code}/clusters/{cluster_id}/merge", methods=["POST"])
@operation(summary="Merge a person into another", tag="clusters", path={"code": EventCode, "cluster_id": ClusterId},
           body=ClusterMerge, responses={200: Cluster},
           errors=("event_not_found", "cluster_not_found", "same_cluster", "people_busy"))
@api
def merge_cluster(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/events/{code}/clusters/{cluster_id}/merge`` ``{into}`` → the merged person;
    404; 422 ``same_cluster``."""
    body = parse_json(req, ClusterMerge)
    return json_response(service.merge_clusters(req.route_params["code"], route_int(req, "cluster_id", "cluster"),
                                                body.into))


@bp.function_name("move_face")
@bp.route(route="faces/{face_id}/cluster", methods=["PUT"])
@operation(summary="Put a face in a person, or take it out", tag="clusters", path={"face_id": RouteInt},
           body=FaceMove, responses={200: FaceAssignment},
           errors=("face_not_found", "cluster_not_found", "face_excluded", "not_in_cluster", "people_busy"))
@api
def move_face(req: func.HttpRequest) -> func.HttpResponse:
    """``PUT /api/faces/{face_id}/cluster`` ``{cluster_id}`` (``null``: "not this person")
    → ``{face_id, cluster_id}``; 404; 422 ``face_excluded`` / ``not_in_cluster``."""
    body = parse_json(req, FaceMove)
    return json_response(service.move_face(route_int(req, "face_id", "face"), body.cluster_id))
