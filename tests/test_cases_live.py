"""Live updates over Server-Sent Events against the real ASGI server, filtered by jurisdiction."""

from __future__ import annotations

import json
import threading
import time

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.django_db


def _token(base: str, username: str) -> str:
    r = httpx.post(f"{base}/api/auth/token", json={"username": username, "password": "onenet-demo"})
    return r.json()["token"]


def _listen(base: str, token: str, got: list, ready: threading.Event, stop: threading.Event) -> None:
    with httpx.stream(
        "GET",
        f"{base}/api/cases/stream",
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(20, read=20),
    ) as r:
        assert r.status_code == 200
        event = None
        for line in r.iter_lines():
            ready.set()
            if stop.is_set():
                return
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "case":
                got.append(json.loads(line[5:]))


def _touch(dsn: str, numbers: list[str]) -> None:
    """Fire the NOTIFY trigger without changing anything (a committed no-op update)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in numbers:
            conn.execute("update cases_case set version = version where number = %s", [n])


def _subscribe(base: str, username: str):
    got: list = []
    ready, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=_listen, args=(base, _token(base, username), got, ready, stop), daemon=True)
    t.start()
    assert ready.wait(10), "the stream did not open"
    return got, stop


def test_dispatcher_and_worker_streams(app_server, test_database_url):
    from cases.models import Case
    from gisapp.accounts.models import Profile

    grid = Profile.objects.get(user__username="worker").jurisdiction_code
    mine = Case.objects.filter(grid_code=grid).values_list("number", flat=True).first()
    other = (
        Case.objects.exclude(grid_code=grid).exclude(grid_code="").values_list("number", flat=True).first()
    )
    assert mine and other
    dispatcher, stop_d = _subscribe(app_server, "dispatcher")
    worker, stop_w = _subscribe(app_server, "worker")
    _touch(test_database_url, [other, mine])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
        {mine, other} <= {e["number"] for e in dispatcher} and mine in {e["number"] for e in worker}
    ):
        time.sleep(0.1)
    stop_d.set()
    stop_w.set()
    assert {mine, other} <= {e["number"] for e in dispatcher}
    assert mine in {e["number"] for e in worker}
    assert other not in {e["number"] for e in worker}  # another grid's case never reaches this worker


def test_anonymous_stream_is_refused(app_server):
    assert httpx.get(f"{app_server}/api/cases/stream").status_code == 401
