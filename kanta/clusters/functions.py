"""Triggers of the clusters domain: the re-clustering timer, an on-demand run and listing."""

from __future__ import annotations

import functools
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
from kanta.endpoints import RouteInt, endpoint
from kanta.validation import EventCode

log = logging.getLogger(__name__)

bp = func.Blueprint()
clusters = functools.partial(endpoint, bp, tag="clusters")


@bp.function_name("recluster_timer")
@bp.timer_trigger(arg_name="timer", schedule=f"%{RECLUSTER_SCHEDULE_SETTING}%", run_on_startup=False)
def recluster_timer(timer: func.TimerRequest) -> None:
    """Timer (schedule from app setting ``KANTA_RECLUSTER_SCHEDULE``, six-field NCRONTAB,
    default every 10 minutes): re-cluster running events whose faces changed. Database
    errors raise; the next tick tries again."""
    if timer.past_due:
        log.info("recluster timer is past due")
    service.recluster_due_events()


@clusters("recluster_event", "POST", "events/{code}/recluster", summary="Sort an event's faces into people now",
          responses={200: ClusterRun}, errors=("event_not_found",))
def recluster_event(code: EventCode) -> ClusterRun:
    """Sort the event's faces into people now, keeping the ids of people that stay."""
    return service.recluster_event(code)


@clusters("list_clusters", "GET", "events/{code}/clusters", summary="List an event's people, largest first",
          responses={200: ClusterList}, errors=("event_not_found",))
def list_clusters(code: EventCode, query: ClusterListQuery) -> ClusterList:
    """One page of the event's people, largest first, each with sample faces; with the counts
    of faces in no person and the last run's figures."""
    return service.list_clusters(code, query)


@clusters("update_cluster", "PATCH", "events/{code}/clusters/{cluster_id}", summary="Name a person",
          responses={200: Cluster}, errors=("event_not_found", "cluster_not_found"))
def update_cluster(code: EventCode, cluster_id: ClusterId, body: ClusterUpdate) -> Cluster:
    """Give a person a name, or take it away (``null``)."""
    return service.rename_cluster(code, cluster_id, body.name)


@clusters("merge_cluster", "POST", "events/{code}/clusters/{cluster_id}/merge", summary="Merge a person into another",
          responses={200: Cluster}, errors=("event_not_found", "cluster_not_found", "same_cluster", "people_busy"))
def merge_cluster(code: EventCode, cluster_id: ClusterId, body: ClusterMerge) -> Cluster:
    """Move every face of this person into person ``into``; returns the merged person."""
    return service.merge_clusters(code, cluster_id, body.into)


@clusters("move_face", "PUT", "faces/{face_id}/cluster", summary="Put a face in a person, or take it out",
          responses={200: FaceAssignment},
          errors=("face_not_found", "cluster_not_found", "face_excluded", "not_in_cluster", "people_busy"))
def move_face(face_id: RouteInt, body: FaceMove) -> FaceAssignment:
    """Put the face in person ``cluster_id``, or take it out of its person (``null``: "not
    this person")."""
    return service.move_face(face_id, body.cluster_id)
