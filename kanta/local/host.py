"""A stand-in for the Functions host, for machines without Azure Functions Core Tools.

It calls the very function objects that ``function_app.app`` registers, as the host would:
- HTTP triggers are served under ``/api`` by a werkzeug WSGI server (routing by werkzeug);
  function keys are not checked, as Core Tools does not check them locally either;
- the blob trigger runs for every new or changed blob of its container, found by polling
  (like the host's ``LogsAndContainerScan`` source), with receipts of (blob, ETag) kept in
  a file so a restart does not re-run finished blobs; a failed run is retried up to 5 times
  (the host's ``poisonBlobThreshold`` default). A parameter of an SDK type
  (``azurefunctions.extensions.bindings.blob.BlobClient``) gets what the Python worker
  builds from the host's model binding data, a client of the blob; else the blob's bytes;
- timer triggers fire on their NCRONTAB schedule (croniter, seconds field first).

A database or storage outage makes every run fail the same way: those failures are logged
on one line each; anything else with its traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import threading
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import azure.functions as func
import psycopg
from azure.core.exceptions import AzureError, ResourceNotFoundError, ServiceRequestError
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


def _log_failure(message: str, *args: Any) -> None:
    """Log a failed run: one line when a service Kanta needs is down (the database, storage),
    which fails every run alike; with the traceback otherwise. Call from an ``except``."""
    exc = sys.exc_info()[1]
    if isinstance(exc, (psycopg.OperationalError, ServiceRequestError)):
        first_line = next(iter(str(exc).strip().splitlines()), "")
        log.warning(message + ": %s: %s", *args, type(exc).__name__, first_line)
    else:
        log.exception(message, *args)


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
    # merge_slashes off: werkzeug would answer "/api/events//images" with a redirect to a
    # merged path (and no Location the client can use); the Functions host answers 404.
    url_map = Map(rules, strict_slashes=False, merge_slashes=False)

    @Request.application
    def wsgi(request: Request) -> Response:
        try:
            endpoint, params = url_map.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            if exc.code == 405:
                body = {"code": "method_not_allowed", "message": "This route does not take that method."}
                return Response(json.dumps(body), status=405, mimetype="application/json")
            # 404, and any redirect werkzeug would make: no route has this exact path.
            body = {"code": "route_not_found", "message": "No route matches this path."}
            return Response(json.dumps(body), status=404, mimetype="application/json")
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


def blob_triggers(app: func.FunctionApp) -> list[tuple[str, str, Callable, Any]]:
    """``(container, function name, callable, trigger binding)`` for each blob trigger of ``app``."""
    found = []
    for fn in index_functions(app):
        trigger = _trigger(fn)
        if trigger.get_binding_name() == "blobTrigger":
            found.append((trigger.path.split("/", 1)[0], fn.get_function_name(), fn.get_user_function(), trigger))
    return found


def _sdk_converter(function: Callable, arg_name: str) -> tuple[Any, type] | None:
    """``(converter, type)`` when the blob trigger parameter ``arg_name`` of ``function`` is
    annotated with an SDK type the Python worker binds from model binding data (its
    registered converter for ``blobTrigger``), else ``None``."""
    try:
        from azurefunctions.extensions.base import meta
    except ImportError:
        return None
    # As the worker reads annotations (typing.get_type_hints: string annotations resolved).
    pytype = typing.get_type_hints(function).get(arg_name)
    converter = meta.get_binding_registry().get("blobTrigger")
    if converter is None or not meta.get_binding_registry().check_supported_type(pytype):
        return None
    return converter, pytype


class _ModelBindingData:
    """What the Functions host sends for a deferred (SDK-type) blob binding: protobuf
    ``ModelBindingData``, of which the converters read these four fields."""

    def __init__(self, connection: str, container: str, blob_name: str) -> None:
        self.version = "1.0"
        self.source = "AzureStorageBlobs"
        self.content_type = "application/json"
        self.content = json.dumps({"Connection": connection, "ContainerName": container, "BlobName": blob_name})


def blob_trigger_argument(function: Callable, trigger: Any, container: str, blob_name: str,
                          read: Callable[[], bytes]) -> Any:
    """The argument the Python worker passes to blob trigger ``function`` (binding
    ``trigger``) for blob ``blob_name`` of ``container``: for an SDK-type parameter, what its
    converter decodes from the host's model binding data (the host reads no byte of the
    blob); else a ``func.InputStream`` of the bytes ``read()`` returns.

    Raises ``ResourceNotFoundError`` when ``read`` finds the blob gone.
    """
    sdk = _sdk_converter(function, trigger.name)
    if sdk is not None:
        from azurefunctions.extensions.base import Datum

        converter, pytype = sdk
        datum = Datum(_ModelBindingData(trigger.connection, container, blob_name), "model_binding_data")
        return converter.decode(datum, trigger_metadata={}, pytype=pytype)
    data = read()
    return func.blob.InputStream(data=data, name=f"{container}/{blob_name}", length=len(data))


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
        self.triggers = blob_triggers(app)
        self.service = service_client
        self.receipts_path = receipts_path
        self.receipts: dict[str, str] = {}
        self.failures: dict[str, int] = {}
        if receipts_path and receipts_path.exists():
            self.receipts = json.loads(receipts_path.read_text())

    def poll_once(self) -> int:
        """Run the trigger once for each blob not yet processed at its current ETag; return how
        many ran. A blob deleted between the listing and its run is skipped; a failed run is
        retried on the next passes, up to ``POISON_BLOB_THRESHOLD`` tries."""
        ran = 0
        for container, name, function, trigger in self.triggers:
            client = self.service.get_container_client(container)
            if not client.exists():
                continue
            for props in client.list_blobs():
                key = f"{name}:{container}/{props.name}"
                if self.receipts.get(key) == props.etag:
                    continue
                try:
                    argument = blob_trigger_argument(function, trigger, container, props.name,
                                                     lambda c=client, n=props.name: c.download_blob(n).readall())
                except ResourceNotFoundError:
                    log.info("%s: %s was deleted before its run; skipped", name, props.name)
                    continue
                except AzureError:
                    _log_failure("%s: could not read %s", name, props.name)
                    continue
                ran += 1
                try:
                    function(argument)
                except Exception:  # noqa: BLE001 - logged by _log_failure; the host retries the blob
                    tries = self.failures[key] = self.failures.get(key, 0) + 1
                    _log_failure("%s failed on %s (try %d of %d)", name, props.name, tries, POISON_BLOB_THRESHOLD)
                    if tries < POISON_BLOB_THRESHOLD:
                        continue
                    log.error("giving up on %s after %d tries (poison blob)", props.name, tries)
                self.failures.pop(key, None)
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
                except Exception:  # noqa: BLE001 - logged by _log_failure; the next tick runs it again
                    _log_failure("timer %s failed", name)


def run_background(stop: threading.Event, interval_s: float, jobs: Iterable[Callable[[], Any]]) -> threading.Thread:
    """Start a daemon thread that calls each job every ``interval_s`` seconds until ``stop`` is set."""

    def loop() -> None:
        while not stop.wait(interval_s):
            for job in jobs:
                try:
                    job()
                except Exception:  # noqa: BLE001 - logged by _log_failure; the loop goes on
                    _log_failure("background job failed")

    thread = threading.Thread(target=loop, name="kanta-local-triggers", daemon=True)
    thread.start()
    return thread
