"""What the Functions host indexes from ``function_app``: names, routes, methods, auth levels,
the blob trigger's path and connection, and the timer's schedule setting. Read from each
function's JSON, the document the Python worker hands to the host."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kanta.local.services import ROOT

HTTP = {
    "health": ("health", ["GET"], "ANONYMOUS"),
    "run_migrations": ("migrations", ["POST"], "ADMIN"),
    "openapi_document": ("openapi.json", ["GET"], "ANONYMOUS"),
    "api_docs": ("docs", ["GET"], "ANONYMOUS"),
    "api_docs_file": ("docs/{file}", ["GET"], "ANONYMOUS"),
    "create_event": ("events", ["POST"], "FUNCTION"),
    "list_events": ("events", ["GET"], "FUNCTION"),
    "get_event": ("events/{code}", ["GET"], "FUNCTION"),
    "update_event": ("events/{code}", ["PATCH"], "FUNCTION"),
    "delete_event": ("events/{code}", ["DELETE"], "FUNCTION"),
    "create_uploads": ("events/{code}/uploads", ["POST"], "FUNCTION"),
    "list_images": ("events/{code}/images", ["GET"], "FUNCTION"),
    "get_image": ("images/{image_id}", ["GET"], "FUNCTION"),
    "delete_image": ("images/{image_id}", ["DELETE"], "FUNCTION"),
    "reindex_image": ("images/{image_id}/reindex", ["POST"], "FUNCTION"),
    "recluster_event": ("events/{code}/recluster", ["POST"], "FUNCTION"),
    "list_clusters": ("events/{code}/clusters", ["GET"], "FUNCTION"),
    "search_event": ("events/{code}/search", ["POST"], "FUNCTION"),
    "update_cluster": ("events/{code}/clusters/{cluster_id}", ["PATCH"], "FUNCTION"),
    "merge_cluster": ("events/{code}/clusters/{cluster_id}/merge", ["POST"], "FUNCTION"),
    "move_face": ("faces/{face_id}/cluster", ["PUT"], "FUNCTION"),
    "create_guest_link": ("events/{code}/guest-link", ["POST"], "FUNCTION"),
    "get_guest_link": ("events/{code}/guest-link", ["GET"], "FUNCTION"),
    "delete_guest_link": ("events/{code}/guest-link", ["DELETE"], "FUNCTION"),
    # Guest routes: no function key; the guest link's token is checked by kanta.guests.service.
    "guest_event": ("guest/events/{code}", ["GET"], "ANONYMOUS"),
    "guest_create_uploads": ("guest/events/{code}/uploads", ["POST"], "ANONYMOUS"),
    "guest_upload_status": ("guest/events/{code}/uploads/{image_id}", ["GET"], "ANONYMOUS"),
    "guest_search": ("guest/events/{code}/search", ["POST"], "ANONYMOUS"),
    "guest_images": ("guest/events/{code}/images", ["GET"], "ANONYMOUS"),
    "guest_forget": ("guest/events/{code}/forget", ["POST"], "ANONYMOUS"),
    "erase_person": ("events/{code}/clusters/{cluster_id}/erase", ["POST"], "FUNCTION"),
    "guest_page": ("join/{code}", ["GET"], "ANONYMOUS"),
    "guest_page_asset": ("join-assets/{name}", ["GET"], "ANONYMOUS"),
    "host_console": ("host", ["GET"], "ANONYMOUS"),
    "host_console_asset": ("host-assets/{name}", ["GET"], "ANONYMOUS"),
}
#: One timer per job: its schedule (six-field NCRONTAB), fixed unless an app setting names it.
TIMERS = {
    "recluster_timer": "%KANTA_RECLUSTER_SCHEDULE%",
    "expire_uploads_timer": "0 */10 * * * *",
    "redrive_uploads_timer": "0 */2 * * * *",
    "purge_tombstones_timer": "0 30 * * * *",
    "purge_guest_counters_timer": "0 15 * * * *",
    "retention_timer": "0 45 * * * *",
    "reindex_outdated_timer": "0 20 * * * *",
    "sweep_uploads_timer": "0 40 3 * * *",
}


def indexed() -> dict[str, list[dict]]:
    from function_app import app
    from kanta.local.host import index_functions

    return {fn.get_function_name(): json.loads(fn.get_function_json())["bindings"] for fn in index_functions(app)}


def trigger(bindings: list[dict]) -> dict:
    (found,) = [b for b in bindings if b["direction"] == "IN" and b["type"].endswith("Trigger")]
    return found


def test_http_functions_routes_methods_and_auth_levels():
    functions = indexed()
    assert set(functions) == set(HTTP) | {"encode_uploaded_image"} | set(TIMERS)
    for name, (route, methods, auth) in HTTP.items():
        t = trigger(functions[name])
        assert (t["type"], t["route"], t["methods"], t["authLevel"]) == ("httpTrigger", route, methods, auth), name


def test_blob_trigger_binding():
    t = trigger(indexed()["encode_uploaded_image"])
    assert t["type"] == "blobTrigger"
    assert t["path"] == "uploads/{event_code}/{name}"
    assert t["connection"] == "KANTA_STORAGE"
    assert t["source"] == "LogsAndContainerScan"  # the default; Event Grid by setting (Flex)


def test_blob_trigger_takes_a_blob_client_the_host_binds_without_reading_the_blob():
    """The parameter is the binding extension's ``BlobClient``: the Python worker tells the host
    ``SupportsDeferredBinding`` (it sends the blob's name, not its bytes) as it does, through
    the extension's ``get_raw_bindings``, and the function gets an ``azure.storage.blob.BlobClient``."""
    import types
    import typing

    from azure.storage.blob import BlobClient
    from azurefunctions.extensions.base import meta, utils

    from function_app import app
    from kanta.local.host import index_functions

    (fn,) = [f for f in index_functions(app) if f.get_function_name() == "encode_uploaded_image"]
    pytype = typing.get_type_hints(fn.get_user_function())["client"]
    assert issubclass(pytype, BlobClient) and meta.get_binding_registry().check_supported_type(pytype)
    raw, _ = utils.get_raw_bindings(fn, {"client": types.SimpleNamespace(pytype=pytype)})
    (binding,) = [json.loads(b) for b in raw]
    assert binding["type"] == "blobTrigger" and binding["properties"] == {"SupportsDeferredBinding": True}


def test_one_timer_per_job_on_its_schedule():
    functions = indexed()
    for name, schedule in TIMERS.items():
        t = trigger(functions[name])
        assert (t["type"], t["schedule"]) == ("timerTrigger", schedule), name
        assert t.get("runOnStartup") in (None, False), name  # it would also fire on every scale-out


def _run_python(code: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, env={**os.environ, **env},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_event_grid_source_is_chosen_by_setting():
    code = ("import json, function_app as f\n"
            "fn = [x for x in f.app.get_functions() if x.get_function_name() == 'encode_uploaded_image'][0]\n"
            "print(json.loads(fn.get_function_json())['bindings'][0]['source'])")
    assert _run_python(code, {"KANTA_BLOB_TRIGGER_SOURCE": "EventGrid"}).strip() == "EventGrid"


def test_http_functions_do_not_import_dlib(services):
    """Indexing the app and serving a non-search HTTP call loads neither dlib nor scikit-learn."""
    code = (
        "import sys, azure.functions as func, function_app\n"
        "from kanta.local.host import index_functions\n"
        "fns = {f.get_function_name(): f.get_user_function() for f in index_functions(function_app.app)}\n"
        "r = fns['list_events'](func.HttpRequest('GET', '/api/events', body=b''))\n"
        "assert r.status_code == 200, r.get_body()\n"
        "print('dlib' in sys.modules, 'sklearn' in sys.modules)"
    )
    assert _run_python(code, services).split() == ["False", "False"]


def test_http_functions_take_the_request_the_worker_binds():
    """Each HTTP function the host indexes takes one parameter, ``req`` (the trigger's name:
    the worker binds by parameter name, reading the signature), and returns an
    ``HttpResponse`` (the ``$return`` binding), whatever its handler takes."""
    import inspect
    import typing

    import azure.functions as func

    from function_app import app
    from kanta.local.host import index_functions

    for fn in index_functions(app):
        if fn.is_http_function():
            user = fn.get_user_function()
            assert list(inspect.signature(user).parameters) == ["req"], fn.get_function_name()
            assert typing.get_type_hints(user) == {"req": func.HttpRequest, "return": func.HttpResponse}
