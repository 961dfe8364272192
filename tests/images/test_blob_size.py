"""Cost checked before work: the blob trigger learns a blob's size from its properties and
downloads it only under ``KANTA_MAX_IMAGE_BYTES``. Real Azurite; the trigger is invoked with
the ``BlobClient`` the Python worker builds for its SDK-type binding (``tests.helpers``)."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from typing import Self

import requests

from tests.helpers import run_blob_trigger

MIB = 1024 * 1024
#: The blob of the finding: 480 MiB, through one upload URL.
BLOCK = 8 * MIB
BLOCKS = 60


class RssSampler:
    """Samples this process's resident memory every 5 ms in a thread; ``peak_growth`` is the
    most it rose above where it was at ``start``, in bytes."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.stop = threading.Event()
        self.peak = self.base = self.rss()

    def rss(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page

    def __enter__(self) -> Self:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.005)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def peak_growth(self) -> int:
        return self.peak - self.base


def test_a_480_mib_blob_fails_as_too_large_without_entering_the_worker(api, functions, event):
    status, body = api("create_uploads", "POST", route={"code": event["code"]},
                       json_body={"files": [{"filename": "huge.jpg", "content_type": "image/jpeg"}]})
    assert status == 201, body
    upload = body["uploads"][0]
    # One browser-style PUT through the upload URL, streamed from a file.
    with tempfile.TemporaryFile() as body:
        block = os.urandom(BLOCK)
        for _ in range(BLOCKS):
            body.write(block)
        del block
        body.seek(0)
        sent = requests.put(upload["upload_url"], data=body, headers=upload["headers"], timeout=300)
    assert sent.status_code == 201, sent.text

    try:
        with RssSampler() as memory:
            run_blob_trigger(functions, upload["blob_name"])
        image = api("get_image", route={"image_id": upload["image_id"]})[1]
        assert (image["status"], image["failure_code"]) == ("failed", "too_large")
        assert image["size_bytes"] == BLOCK * BLOCKS
        # Downloading would have added 480 MB; checking the size costs a HEAD request.
        assert memory.peak_growth < 50 * MIB, f"+{memory.peak_growth / MIB:.0f} MiB"
    finally:
        api("delete_image", "DELETE", route={"image_id": upload["image_id"]})
