"""A stand-in for the Functions host, for machines without Azure Functions Core Tools.

It calls the very function objects that ``function_app.app`` registers, as the host would:
- HTTP triggers are served under ``/api`` by a werkzeug WSGI server (routing by werkzeug);
  function keys are not checked, as Core Tools does not check them locally either;
- the blob trigger runs for every new or changed blob of its container, found by polling
  (like the host's ``LogsAndContainerScan`` source), with receipts of (blob, ETag) kept in
  a file so a restart does not re-run finished blobs; a failed run is retried up to 5 times
  (the host's ``poisonBlobThreshold`` default);
- timer triggers fire on their NCRONTAB schedule (croniter, seconds field first).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.timer import TimerRequest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

log = logging.getLogger("kanta.local.host")

#: The host's default HTTP route prefix (host.json ``extensions.http.routePrefix``).
ROUTE_PREFIX = "/api"
#: Tries before a blob is given up on, as the host's default ``poisonBlobThreshold``.
POISON_BLOB_THRESHOLD = 5


_indexed: dict[int, list] = {}


def index_functions(app: func.FunctionApp) -> list:
    """``app.get_functions()``, called once per app: azure-functions 1.26 raises "does not
    have a unique function name" on a second call (it remembers names across calls)."""
    if id(app) not in _indexed:
        _indexed[id(app)] = app.get_functions()
    return _indexed[id(app)]


def _trigger(fn: Any) -> Any:
    return fn.get_trigger()


def _werkzeug_route(route: str) -> str:
    # Azure routes use {name}; werkzeug uses <name>. Constraints ({id:int}) are not used by Kanta.
    return ROUTE_PREFIX + "/" + re.sub(r"\{(\w+)\}", r"<\1>", route)


def build_wsgi_app(app: func.FunctionApp) -> Callable:
    """A WSGI application that routes ``/api/...`` requests to ``app``'s HTTP functions."""
    rules, handlers = [], {}
    for fn in index_functions(app):
        if not fn.is_http_function():
            continue
        name = fn.get_function_name()
        trigger = _trigger(fn)
        methods = [str(m.value if hasattr(m, "value") else m) for m in (trigger.methods or ["GET", "POST"])]
        rules.append(Rule(_werkzeug_route(trigger.route or name), endpoint=name, methods=methods))
        handlers[name] = fn.get_user_function()
    url_map = Map(rules, strict_slashes=False)

    @Request.application
    def wsgi(request: Request) -> Response:
        try:
            endpoint, params = url_map.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            body = json.dumps({"code": "route_not_found" if exc.code == 404 else "method_not_allowed",
                               "message": exc.description})
            return Response(body, status=exc.code, mimetype="application/json")
        req = func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=dict(request.headers),
            params=dict(request.args),
            route_params=params,
            body=request.get_data(),
        )
        resp = handlers[endpoint](req)
        return Response(resp.get_body(), status=resp.status_code, headers=dict(resp.headers),
                        mimetype=resp.mimetype)

    return wsgi


def blob_functions(app: func.FunctionApp) -> list[tuple[str, str, Callable]]:
    """``(container, function name, callable)`` for each blob trigger of ``app``."""
    found = []
    for fn in index_functions(app):
        trigger = _trigger(fn)
        if trigger.get_binding_name() == "blobTrigger":
            found.append((trigger.path.split("/", 1)[0], fn.get_function_name(), fn.get_user_function()))
    return found


def timer_functions(app: func.FunctionApp) -> list[tuple[str, str, Callable]]:
    """``(schedule, function name, callable)`` for each timer trigger; ``%SETTING%`` resolved."""
    found = []
    for fn in index_functions(app):
        trigger = _trigger(fn)
        if trigger.get_binding_name() == "timerTrigger":
            schedule = re.sub(r"%(\w+)%", lambda m: os.environ.get(m.group(1), ""), trigger.schedule)
            found.append((schedule, fn.get_function_name(), fn.get_user_function()))
    return found


class BlobPoller:
    """Runs blob-trigger functions for new or changed blobs, as the host's polling scan does."""

    def __init__(self, app: func.FunctionApp, service_client: Any, receipts_path: Path | None = None) -> None:
        self.functions = blob_functions(app)
        self.service = service_client
        self.receipts_path = receipts_path
        self.receipts: dict[str, str] = {}
        self.failures: dict[str, int] = {}
        if receipts_path and receipts_path.exists():
            self.receipts = json.loads(receipts_path.read_text())

    def poll_once(self) -> int:
        """Run the trigger once for each blob not yet processed at its current ETag; return how many ran."""
        ran = 0
        for container, name, function in self.functions:
            client = self.service.get_container_client(container)
            if not client.exists():
                continue
            for props in client.list_blobs():
                key = f"{name}:{container}/{props.name}"
                if self.receipts.get(key) == props.etag:
                    continue
                ran += 1
                data = client.download_blob(props.name).readall()
                stream = func.blob.InputStream(data=data, name=f"{container}/{props.name}",
                                               uri=f"{client.url}/{props.name}", length=len(data))
                try:
                    function(stream)
                except Exception:
                    tries = self.failures[key] = self.failures.get(key, 0) + 1
                    log.exception("%s failed on %s (try %d of %d)", name, props.name, tries, POISON_BLOB_THRESHOLD)
                    if tries < POISON_BLOB_THRESHOLD:
                        continue
                    log.error("giving up on %s after %d tries (poison blob)", props.name, tries)
                self.receipts[key] = props.etag
                self._save()
        return ran

    def _save(self) -> None:
        if self.receipts_path:
            self.receipts_path.write_text(json.dumps(self.receipts))


class TimerRunner:
    """Fires timer-trigger functions on their schedules."""

    def __init__(self, app: func.FunctionApp) -> None:
        from croniter import croniter

        now = dt.datetime.now()
        self.timers = [
            (croniter(schedule, now, second_at_beginning=True), name, function)
            for schedule, name, function in timer_functions(app)
        ]
        self.next_runs = [it.get_next(dt.datetime) for it, _, _ in self.timers]

    def run_due(self) -> None:
        """Call every timer whose next run time has passed."""
        now = dt.datetime.now()
        for i, (it, name, function) in enumerate(self.timers):
            if self.next_runs[i] <= now:
                self.next_runs[i] = it.get_next(dt.datetime)
                try:
                    function(TimerRequest(past_due=False))
                except Exception:
                    log.exception("timer %s failed", name)


def run_background(stop: threading.Event, interval_s: float, jobs: Iterable[Callable[[], Any]]) -> threading.Thread:
    """Start a daemon thread that calls each job every ``interval_s`` seconds until ``stop`` is set."""

    def loop() -> None:
        while not stop.wait(interval_s):
            for job in jobs:
                try:
                    job()
                except Exception:
                    log.exception("background job failed")

    thread = threading.Thread(target=loop, name="kanta-local-triggers", daemon=True)
    thread.start()
    return thread
