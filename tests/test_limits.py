"""Limits: body size, nesting, vertex count, batch size, page size, rate limits, statement timeouts and
live streams — each answered with a clear 4xx / 429 / 503 and a reason in Chinese and English, never a
hang and never a 500."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from urllib.parse import urlsplit

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection

pytestmark = pytest.mark.django_db


def _reason(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert body["error"]["zh"] and body["error"]["en"], body
    return body


def _login(client, username: str) -> User:
    user = User.objects.get(username=username)
    client.force_login(user)
    return user


def _post_json(client, url: str, body, **extra):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, raw, content_type="application/json", **extra)


# ---------------------------------------------------------------------------------------------- bodies
def test_a_declared_huge_body_is_refused_before_it_is_sent(app_server):
    """Content-Length of a terabyte: 413 at once, without waiting for (or buffering) a byte of it."""
    parts = urlsplit(app_server)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/cases HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000000\r\n\r\n{"
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert time.monotonic() - started < 5
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    error = json.loads(body)["error"]
    assert "MB" in error["en"] and error["zh"]


def test_a_chunked_body_is_counted_as_it_arrives():
    """Without Content-Length the middleware counts: past the limit the app sees the client leave and the
    client gets the 413 (an app that reads its whole body first, as Django does)."""
    from gisapp.limits import body_limit

    seen = {}

    async def app(scope, receive, send):
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                seen["aborted"] = True
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def run(chunks: list[bytes]) -> list[dict]:
        queue = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]
        sent: list[dict] = []

        async def receive():
            return queue.pop(0)

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/api/cases", "headers": []}
        await body_limit(app, limit=1000)(scope, receive, send)
        return sent

    small = asyncio.run(run([b"x" * 400, b"x" * 400]))
    assert small[0]["status"] == 200
    big = asyncio.run(run([b"x" * 600, b"x" * 600, b"x" * 600]))
    assert seen["aborted"] and big[0]["status"] == 413
    assert json.loads(big[1]["body"])["error"]["zh"]


def test_django_body_limit_is_a_json_413(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    _login(client, "planner")
    response = _post_json(client, "/api/boundaries/drafts", {"net": "comprehensive", "area": "9" * 3000})
    _reason(response, 413)


@pytest.mark.parametrize(
    "user, url",
    [
        ("dispatcher", "/api/cases"),
        ("planner", "/api/boundaries/drafts"),
        ("dispatcher", "/api/geocode/batch"),
        (None, "/api/auth/token"),
        (None, "/api/public/reports"),
    ],
)
def test_absurdly_nested_json_is_a_400(client, user, url):
    """json.loads recurses: 5,000 nested brackets raised RecursionError, a 500, on every JSON API."""
    if user:
        _login(client, user)
    _reason(_post_json(client, url, "[" * 5_000 + "]" * 5_000), 400)


def test_geometry_vertex_limit_through_the_api(client):
    from boundaries.geometry import MAX_VERTICES

    _login(client, "planner")
    with connection.cursor() as cur:
        cur.execute(
            "select code, st_x(st_centroid(geom)), st_y(st_centroid(geom)) from layers_adminunit "
            "where level = 'community' order by code limit 1"
        )
        area, x, y = cur.fetchone()
    draft = _post_json(client, "/api/boundaries/drafts", {"net": "comprehensive", "area": area})
    assert draft.status_code == 201
    ring = [[x + 1e-4 * (i % 2), y + 1e-7 * i] for i in range(MAX_VERTICES + 5)]
    body = {"op": "create", "net": "comprehensive", "polygon": {"type": "Polygon", "coordinates": [ring]}}
    response = _post_json(client, f"/api/boundaries/drafts/{draft.json()['id']}/operations", body)
    assert _reason(response, 413)["reason"] == "too_many_vertices"


def test_batch_size_limit(client, settings):
    settings.GEOCODE_BATCH_MAX_ROWS = 5
    _login(client, "dispatcher")
    response = client.post(
        "/api/geocode/batch", data="address\n" + "学士街1号\n" * 6, content_type="text/csv"
    )
    assert "5" in _reason(response, 413)["error"]["en"]


# ---------------------------------------------------------------------------------------------- pages
@pytest.mark.parametrize(
    "user, url, limit",
    [
        ("dispatcher", "/api/cases", 500),
        ("dispatcher", "/api/cases/overdue", 500),
        (None, "/ogcapi/collections/buildings/items", 10000),
        (None, "/api/geocode?q=学士街&", 10),
        (None, "/api/public/nearby?lon=125.9&lat=46.57&", 20),
    ],
)
def test_every_list_has_a_page_size_limit(client, user, url, limit):
    if user:
        _login(client, user)
    sep = "" if url.endswith("&") else "?"
    _reason(client.get(f"{url}{sep}limit={limit + 1}"), 400)
    _reason(client.get(f"{url}{sep}limit=0"), 400)
    ok = client.get(f"{url}{sep}limit=2")
    assert ok.status_code == 200, ok.content[:300]
    data = ok.json()
    rows = data.get("results", data.get("features", data.get("candidates", data.get("stations"))))
    assert rows is not None and len(rows) <= 2


def test_default_pages_are_bounded(client):
    _login(client, "dispatcher")
    assert len(client.get("/api/cases").json()["results"]) <= 50
    assert len(client.get("/ogcapi/collections/buildings/items").json()["features"]) <= 100


# ---------------------------------------------------------------------------------------------- rates
def test_public_lookups_are_rate_limited_per_address(client, settings):
    settings.ONENET_RATE_LIMITS = {"public_lookup": "4/60"}
    client.defaults["REMOTE_ADDR"] = "10.9.8.7"  # an address no server-side test has counted
    urls = [
        "/api/geocode?q=学士街",
        "/api/reverse?lon=125.9&lat=46.57",
        "/api/public/nearby?lon=125.9&lat=46.57",
        "/open311/v2/requests.json",
    ]
    for url in urls:
        assert client.get(url).status_code != 429, url
    for url in urls:
        response = client.get(url)
        assert response.status_code == 429, url
        assert int(response["Retry-After"]) > 0
        if url.startswith("/open311"):
            assert "too many requests" in response.json()[0]["description"]
        else:
            _reason(response, 429)
    # Staff are not counted: their look-ups are their work, and signed
    _login(client, "dispatcher")
    assert client.get(urls[0]).status_code == 200
    # Another address has its own allowance
    client.logout()
    client.defaults["REMOTE_ADDR"] = "10.1.2.3"
    assert client.get(urls[0]).status_code == 200


def test_wrong_passwords_are_rate_limited(client, settings):
    settings.ONENET_RATE_LIMITS = {"token": "2/300"}
    client.defaults["REMOTE_ADDR"] = "10.9.8.6"
    good = {"username": "dispatcher", "password": "onenet-demo"}
    for _ in range(3):  # successful logins are not counted
        assert _post_json(client, "/api/auth/token", good).status_code == 200
    for _ in range(2):
        assert _post_json(client, "/api/auth/token", {"username": "x", "password": "y"}).status_code == 401
    response = _post_json(client, "/api/auth/token", good)  # after two guesses, even the right password
    _reason(response, 429)
    assert int(response["Retry-After"]) > 0


# ---------------------------------------------------------------------------------------------- database
def _timeout_ms(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        value = conn.execute(
            "select setting::int from pg_settings where name = 'statement_timeout'"
        ).fetchone()
        return value[0]


def test_every_connection_a_request_can_open_has_a_statement_timeout():
    from cases.live import _conninfo as live_conninfo
    from tiles.server import _conninfo as tiles_conninfo

    with connection.cursor() as cur:  # Django's pool: views, batch jobs, the rate limiter
        cur.execute("select setting::int from pg_settings where name = 'statement_timeout'")
        assert 0 < cur.fetchone()[0] <= 30_000
    assert 0 < _timeout_ms(tiles_conninfo()) <= 30_000  # the tile server's own pool and LISTEN connection
    assert 0 < _timeout_ms(live_conninfo()) <= 30_000  # each live stream's LISTEN connection


def test_a_statement_past_its_timeout_is_a_503_with_retry_after(client):
    from frontend.api import PEOPLE

    _login(client, "dispatcher")
    PEOPLE.clear()  # the people panel counts the whole city: slower than a millisecond
    with connection.cursor() as cur:
        cur.execute("set local statement_timeout = 1")
    response = client.get("/api/map/indicators/people")
    body = _reason(response, 503)
    assert int(response["Retry-After"]) > 0 and "try again" in body["error"]["en"]


def test_no_free_database_connection_is_a_503(rf):
    """The pool's wait for a connection ends in PoolTimeout, which Django wraps: a 503, not a 500."""
    from django.db import OperationalError
    from psycopg_pool import PoolTimeout

    from gisapp.limits import DatabaseLimitsMiddleware

    try:
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as inner:
            raise OperationalError(str(inner)) from inner
    except OperationalError as exc:
        response = DatabaseLimitsMiddleware(lambda r: None).process_exception(rf.get("/api/cases"), exc)
    assert response.status_code == 503 and response["Retry-After"]
    # A programming error is not dressed up as "busy": it stays a 500
    bad = DatabaseLimitsMiddleware(lambda r: None).process_exception(rf.get("/"), ValueError("bug"))
    assert bad is None


def test_live_streams_are_capped(client, monkeypatch):
    import cases.live

    _login(client, "dispatcher")
    monkeypatch.setattr(cases.live, "MAX_STREAMS", 0)
    response = client.get("/api/cases/stream")
    _reason(response, 429)
    assert response["Retry-After"]


@pytest.mark.parametrize(
    "user, url",
    [
        ("dispatcher", "/api/cases?since=0930-11-28T04:48:47-21:33"),
        ("dispatcher", "/api/cases/stats?since=2026-01-01T00:00:00+23:59"),
        (None, "/open311/v2/requests.json?end_date=0001-01-01T00:00:00"),
        (None, "/ogcapi/collections/admin-units/items?datetime=0930-11-28T04:48:47-21:33"),
        (None, "/ogcapi/collections/admin-units/items?datetime=0001-01-01T00:00:00%2B14:00"),
    ],
)
def test_odd_but_valid_times_are_answered_not_crashed_on(client, user, url):
    """Offsets past PostgreSQL's ±16 h and moments at the calendar's edge (found by the fuzzer: 500s)."""
    if user:
        _login(client, user)
    response = client.get(url)
    assert response.status_code in (200, 400), response.content[:300]


def test_nul_characters_are_refused_wherever_they_come(client):
    """PostgreSQL text cannot hold NUL: psycopg raised a DataError, a 500 (found by the long fuzz)."""
    from fixtures.loader import DEMO_OPEN311_KEY

    _login(client, "dispatcher")
    _reason(client.get("/api/cases/AJ%00"), 400)
    _reason(client.get("/api/cases?category=S%00J"), 400)
    _reason(_post_json(client, "/api/cases", {"category": "SJ\u00000101", "address": "学士街"}), 400)
    _reason(_post_json(client, "/api/boundaries/drafts", {"net": "comp\u0000", "area": "990102"}), 400)
    form = {"api_key": DEMO_OPEN311_KEY, "service_code": "SJ\x000101", "address_string": "学士街1号"}
    assert client.post("/open311/v2/requests.json", form).status_code == 400
    client.logout()
    nul = _post_json(client, "/api/auth/token", {"username": "dis\u0000", "password": "x"})
    assert nul.status_code == 400


def test_nul_in_a_batch_and_a_broken_multipart_body_are_400s(client):
    _login(client, "dispatcher")
    assert (
        "NUL"
        in _reason(_post_json(client, "/api/geocode/batch", ["学士街1号", "学士\u0000街"]), 400)["error"][
            "en"
        ]
    )
    broken = client.post("/api/geocode/batch", b"--x\r\n", content_type="multipart/form-data")
    _reason(broken, 400)
