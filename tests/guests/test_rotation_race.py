"""Two hosts (or two instances) rotate an event's guest link at the same moment, against
real PostgreSQL: the event keeps one link, and exactly one of the two new tokens opens it."""

from __future__ import annotations

import threading

from tests.guests.helpers import guest_call

#: Concurrent rotations.
ROTATIONS = 6


def test_concurrent_rotations_leave_one_link_and_one_working_token(functions, event):
    from kanta.db import connection
    from kanta.guests.schemas import GuestLinkCreate
    from kanta.guests.service import create_link

    start = threading.Barrier(ROTATIONS, timeout=30)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def rotate() -> None:
        try:
            start.wait()
            tokens.append(create_link(event["code"], GuestLinkCreate(), "http://localhost").token)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=rotate) for _ in range(ROTATIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(tokens) == ROTATIONS

    with connection() as conn:
        links = conn.execute("SELECT count(*) AS n FROM guest_links gl JOIN events e ON e.id = gl.event_id "
                             "WHERE e.code = %s", (event["code"],)).fetchone()["n"]
    assert links == 1
    opened = [t for t in tokens if guest_call(functions, "guest_event", event["code"], t)[0] == 200]
    assert len(opened) == 1
