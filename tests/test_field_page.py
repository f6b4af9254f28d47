"""The grid worker's phone page (/field/) in Debian's Chromium, emulating a phone (Pixel 5 at 360×740) with
the geolocation permission and a position inside the demo worker's grid.

The page loads with no console error and no request to any host but this machine; a check-in reaches the
API; a report with a photo made while the browser is offline waits in the outbox (the count is shown), and
once the network is back arrives exactly once — even when the first answer is lost on the way; patrol
points taken while walking become the day's track; a dispatched case is handled and closed with a photo;
the service worker keeps the page, its bundles and the grid's tiles, and the page opens again offline.

Everything the app server writes here is committed in the test database, so the module removes its cases,
check-ins and patrols afterwards.  ONENET_SCREENSHOTS=1 also writes docs/screenshots/field.png.
"""

from __future__ import annotations

import os
import struct
import time
import uuid
import zlib

import psycopg
import pytest
from django.utils import timezone
from test_pages import SHOTS, Watch, chromium, forget

from cases.models import Attachment, Case
from layers.models import Building, CheckIn, GridWorker, Patrol

pytestmark = pytest.mark.django_db
PASSWORD = "onenet-demo"
sync_api = pytest.importorskip("playwright.sync_api")


# ------------------------------------------------------------------------------------------ helpers
def png(width: int, height: int) -> bytes:
    """A camera-sized picture (a gradient) as PNG, made without an imaging library."""
    red = bytes(x * 255 // width for x in range(width))
    rows = bytearray()
    for y in range(height):
        row = bytearray(3 * width)
        row[0::3], row[1::3], row[2::3] = red, bytes([y * 255 // height]) * width, b"\x78" * width
        rows += b"\x00" + row
    chunk = lambda tag, data: (  # noqa: E731
        struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 1))
        + chunk(b"IEND", b"")
    )


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame marker."""
    assert data[:3] == b"\xff\xd8\xff", "not a JPEG"
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    raise AssertionError("no frame header")


def wait_ready(page, timeout: float = 60_000) -> None:
    """The page's flag, set after MapLibre's first `idle`.  Predicates are functions, never expression
    strings: Playwright evaluates a polled expression with eval(), which the pages' CSP forbids."""
    page.wait_for_function("() => document.body.dataset.ready", timeout=timeout)
    assert page.evaluate("() => document.body.dataset.ready") == "1"


def login(page, base: str, username: str = "worker", next_path: str = "/field/") -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


@pytest.fixture(scope="module")
def browser():
    with chromium() as (p, b):
        b.phone = {  # type: ignore[attr-defined]
            **p.devices["Pixel 5"],
            "viewport": {"width": 360, "height": 740},
            "device_scale_factor": 2,
        }
        yield b


@pytest.fixture(scope="module")
def me(django_db_setup, django_db_blocker) -> GridWorker:
    with django_db_blocker.unblock():
        return GridWorker.objects.select_related("user").get(user__username="worker")


@pytest.fixture(scope="module")
def spot(me, django_db_blocker) -> tuple[float, float]:
    with django_db_blocker.unblock():
        b = Building.objects.filter(grid_code=me.grid_code).order_by("id").first()
        return b.point.x, b.point.y


@pytest.fixture(scope="module", autouse=True)
def cleanup(test_database_url, me):
    """Remove what the app server committed for the demo worker during this module."""
    started = timezone.now()
    yield
    with psycopg.connect(test_database_url) as conn:
        numbers = conn.execute(
            "select number from cases_case where reported_at >= %s and grid_code like %s",
            [started, me.grid_code[:9] + "%"],
        ).fetchall()
    for (number,) in numbers:
        forget(test_database_url, number)
    with psycopg.connect(test_database_url) as conn:
        conn.execute("delete from layers_checkin where worker_id = %s", [me.pk])
        conn.execute(
            "delete from layers_patrolpoint where patrol_id in "
            "(select id from layers_patrol where worker_id = %s)",
            [me.pk],
        )
        conn.execute("delete from layers_patrol where worker_id = %s", [me.pk])


def new_phone(browser, app_server, spot, service_workers: str = "block"):
    context = browser.new_context(
        **browser.phone,
        geolocation={"longitude": spot[0], "latitude": spot[1], "accuracy": 8},
        permissions=["geolocation"],
        locale="zh-CN",
        service_workers=service_workers,
    )
    page = context.new_page()
    watch = Watch(page)
    login(page, app_server)
    wait_ready(page)
    return context, page, watch


@pytest.fixture(scope="module")
def phone(browser, app_server, spot):
    """The page as the demo worker sees it, service worker off so that routes can be intercepted."""
    context, page, watch = new_phone(browser, app_server, spot)
    yield context, page, watch
    context.close()


def reload_me(page) -> None:
    page.evaluate("window.__onenet.reload()")


# ------------------------------------------------------------------------------------------ tests
def test_the_page_loads_clean_with_my_grid_and_cases_nearest_first(phone, me):
    context, page, watch = phone
    assert me.name in page.inner_text("#worker-name")
    body = page.evaluate("window.__onenet.me()")
    assert [g["code"] for g in body["grids"]] == [me.grid_code]
    grid = page.evaluate("() => window.__onenet.map.getSource('my-grid').getData()")
    assert grid["type"] == "Feature" and grid["geometry"] == body["grids"][0]["geometry"]
    shown = page.locator("#case-list li.case").count()
    assert shown == len(body["cases"]) > 0
    distances = [c["distance_m"] for c in body["cases"] if c["distance_m"] is not None]
    assert distances and distances == sorted(distances)  # the fix was sent: nearest first
    assert page.inner_text("#cases-count") == str(shown)
    assert page.inner_text("#outbox-count") == "0"
    watch.assert_clean()


def test_my_position_is_on_the_map_and_centre_on_me_goes_there(phone, spot):
    """The fix arrived before the map had loaded (the phone's first fix is quick): the dot and the
    accuracy circle are there all the same, follow the next fix, also offline, and "centre on me" goes
    there."""
    context, page, watch = phone
    dot = page.locator(".me-dot")
    assert dot.is_visible()
    at = page.evaluate("window.__onenet.me_at")
    assert at == pytest.approx(list(spot), abs=1e-7)
    circle = page.evaluate("() => window.__onenet.map.getSource('me-accuracy').getData()")
    assert circle["geometry"]["type"] == "Polygon"
    # the dot is drawn where the fix is: its screen position is the map's projection of the fix
    box = dot.bounding_box()
    x, y = page.evaluate("p => { const q = window.__onenet.map.project(p); return [q.x, q.y]; }", at)
    canvas = page.locator("#map canvas").bounding_box()
    assert (
        abs(box["x"] + box["width"] / 2 - canvas["x"] - x) < 3
        and abs(box["y"] + box["height"] / 2 - canvas["y"] - y) < 3
    )
    warnings: list[str] = []
    page.on("console", lambda m: m.type == "warning" and warnings.append(m.text))
    context.set_offline(True)
    try:
        moved = (spot[0] + 0.003, spot[1] + 0.001)
        context.set_geolocation({"longitude": moved[0], "latitude": moved[1], "accuracy": 20})
        page.evaluate(
            "p => window.__onenet.map.jumpTo({center: p, zoom: 13})", [spot[0] - 0.01, spot[1] - 0.01]
        )
        page.click("#centre-me")
        page.wait_for_function(
            "m => { const c = window.__onenet.map.getCenter();"
            " return Math.abs(c.lng - m[0]) < 1e-5 && Math.abs(c.lat - m[1]) < 1e-5; }",
            arg=list(moved),
            timeout=5000,
        )
        assert page.evaluate("window.__onenet.me_at") == pytest.approx(list(moved), abs=1e-7)
        assert page.evaluate("window.__onenet.map.getZoom()") >= 16
    finally:
        context.set_offline(False)
        context.set_geolocation({"longitude": spot[0], "latitude": spot[1], "accuracy": 8})
    # tiles that could not load offline are named, not logged as a minified class name
    assert any(w.startswith("map: source ") and "failed" in w for w in warnings), warnings
    assert page.get_attribute("#centre-me", "title") == "回到我的位置"
    watch.assert_clean()


def test_a_check_in_reaches_the_api(phone, me):
    context, page, watch = phone
    page.click("#checkin-btn")
    page.click(".tabs [data-tab=duty]")
    page.wait_for_selector("#checkin-list li.checkin")
    stored = list(CheckIn.objects.filter(worker=me))
    assert len(stored) == 1 and stored[0].grid_code == me.grid_code and stored[0].crs == "EPSG:4326"
    listed = page.evaluate("fetch('/api/field/checkins').then(r => r.json())")
    assert [c["id"] for c in listed["results"]] == [stored[0].pk]
    watch.assert_clean()


def test_a_report_made_offline_is_queued_and_arrives_once(phone, me, tmp_path):
    context, page, watch = phone
    marker = f"离线上报测试 {uuid.uuid4().hex[:8]}"
    picture = tmp_path / "camera.png"
    picture.write_bytes(png(2400, 1800))
    page.click(".tabs [data-tab=report]")
    context.set_offline(True)
    page.wait_for_function("() => document.getElementById('net-state').classList.contains('off')")
    page.select_option("#report-category", index=1)
    page.fill("#report-description", marker)
    page.set_input_files("#report-photos", str(picture))
    page.wait_for_selector("#report-previews img")
    page.click("#where-device")
    page.wait_for_function("() => document.getElementById('report-where').textContent.includes(',')")
    page.click("#report-send")
    page.wait_for_function("() => document.getElementById('outbox-count').textContent === '1'")
    page.click(".tabs [data-tab=outbox]")
    assert page.locator("#outbox-list li[data-kind=report]").count() == 1
    time.sleep(1)
    assert Case.objects.filter(description=marker).count() == 0  # nothing left the phone

    # Back online, the first answer is lost on the way (the server did make the case): the outbox keeps
    # the report and sends it again with the same key, and the server gives back the same case.
    lost = []

    def lose_first_answer(route):
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch().status)
            return route.abort()
        return route.continue_()

    page.route("**/api/cases", lose_first_answer)
    context.set_offline(False)
    page.wait_for_function("() => !document.getElementById('net-state').classList.contains('off')")
    deadline = time.monotonic() + 20
    while not lost and time.monotonic() < deadline:
        page.wait_for_timeout(200)  # lets Playwright run the route handler (time.sleep would not)
    assert lost == [201]
    assert page.inner_text("#outbox-count") == "1"  # still waiting: the phone never heard back
    page.click("#outbox-send")
    page.wait_for_function(
        "() => document.getElementById('outbox-count').textContent === '0'", timeout=20_000
    )
    page.unroute("**/api/cases")
    cases = list(Case.objects.filter(description=marker))
    assert len(cases) == 1
    case = cases[0]
    assert case.grid_code == me.grid_code and case.channel == "grid_worker"
    photos = list(Attachment.objects.filter(case=case))
    assert len(photos) == 1 and photos[0].content_type == "image/jpeg"
    with photos[0].file.open("rb") as f:
        data = f.read()
    assert jpeg_size(data) == (1600, 1200) and len(data) < 1_000_000
    # The lost answer logged one failed request (aborted on purpose above), nothing else.
    errors = [e for e in watch.errors if "net::ERR_FAILED" not in e]
    assert errors == [] and watch.outside == []
    watch.errors.clear()


def test_patrol_points_become_the_days_track(phone, me, spot):
    context, page, watch = phone
    assert page.get_attribute("#patrol-btn", "aria-pressed") == "true"  # recording while the page is open
    kept = page.evaluate("window.__onenet.patrol.keptCount()")
    for i in range(1, 4):  # walk east, ~40 m a step
        context.set_geolocation({"longitude": spot[0] + i * 0.0005, "latitude": spot[1], "accuracy": 6})
        page.wait_for_function("n => window.__onenet.patrol.keptCount() >= n", arg=kept + i, timeout=10_000)
    page.evaluate("window.__onenet.patrol.flushBuffer()")
    page.wait_for_function(
        "() => document.getElementById('outbox-count').textContent === '0'", timeout=20_000
    )
    patrol = Patrol.objects.get(worker=me, day=timezone.localdate())
    assert patrol.point_count >= 3 and patrol.length_m > 60
    page.wait_for_function("() => window.__onenet.track.length >= 3", timeout=10_000)
    page.click(".tabs [data-tab=duty]")
    page.wait_for_function("() => document.getElementById('patrol-summary').textContent.includes('0.')")
    context.set_geolocation({"longitude": spot[0], "latitude": spot[1], "accuracy": 8})
    if os.environ.get("ONENET_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.click(".tabs [data-tab=cases]")
        page.evaluate("() => document.getElementById('toasts')?.replaceChildren()")
        page.evaluate("() => window.__onenet.idle()")
        page.screenshot(path=str(SHOTS / "field.png"))
    watch.assert_clean()


def test_a_dispatched_case_is_handled_and_closed_with_a_photo(phone, me, spot, app_server, tmp_path):
    import httpx

    context, page, watch = phone
    with httpx.Client(base_url=app_server, timeout=30) as api:
        token = api.post("/api/auth/token", data={"username": "dispatcher", "password": PASSWORD}).json()
        api.headers["Authorization"] = f"Bearer {token['token']}"
        body = {
            "category": "SJ0101",
            "description": "现场处置测试",
            "location": {"lon": spot[0], "lat": spot[1]},
        }
        case = api.post("/api/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}).json()
        number = case["number"]
        case = api.post(f"/api/cases/{number}/transitions", json={"transition": "register"}).json()
        assign = {"transition": "dispatch", "assignee": {"level": "grid"}}
        case = api.post(f"/api/cases/{number}/transitions", json=assign).json()
    assert case["status"] == "dispatched" and case["assignee"]["code"] == me.grid_code
    reload_me(page)
    page.click(".tabs [data-tab=cases]")
    page.click(f"#case-list li[data-number='{number}']")
    page.click("#case-detail [data-transition=accept]")
    page.wait_for_selector("#case-card[data-status=in_progress]")
    page.click("#case-detail [data-transition=handle]")
    page.fill("#t-form textarea[name=result]", "已现场清理完毕")
    picture = tmp_path / "after.png"
    picture.write_bytes(png(1200, 900))
    page.set_input_files("#t-form input[type=file]", str(picture))
    page.click("#handle-close")
    page.wait_for_function("n => !document.querySelector(`#case-list li[data-number='${n}']`)", arg=number)
    closed = Case.objects.get(number=number)
    assert closed.status == "closed" and closed.result == "已现场清理完毕"
    photo = Attachment.objects.get(case=closed)
    assert photo.content_type == "image/jpeg" and photo.event.action == "handle"
    with photo.file.open("rb") as f:
        assert jpeg_size(f.read()) == (1200, 900)
    actions = list(closed.events.order_by("at", "id").values_list("action", "actor__username"))
    assert actions[-3:] == [("accept", "worker"), ("handle", "worker"), ("close", "worker")]
    watch.assert_clean()


def test_the_service_worker_keeps_the_page_and_my_grids_tiles(browser, app_server, spot):
    context, page, watch = new_phone(browser, app_server, spot, service_workers="allow")
    try:
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
        page.wait_for_function(
            "() => { const t = window.__onenet.offlineTiles; return t && t.total > 0 && t.done >= t.total; }",
            timeout=60_000,
        )
        total = page.evaluate("window.__onenet.offlineTiles.total")
        cached = page.evaluate(
            """async () => {
                const tiles = await (await caches.open('field-tiles-v1')).keys();
                const shell = (await caches.keys()).find(n => n.startsWith('field-shell-'));
                const files = (await (await caches.open(shell)).keys()).map(r => new URL(r.url).pathname);
                return {tiles: tiles.filter(r => r.url.endsWith('.mvt')).length, files};
            }"""
        )
        assert cached["tiles"] >= total > 4
        assert "/field/" in cached["files"] and "/tiles/style.json" in cached["files"]
        assert any(
            f.startswith("/static/app/") and "field" in f and f.endswith(".js") for f in cached["files"]
        )
        assert any(f.endswith("maplibre-gl-worker.mjs") for f in cached["files"])
        sw = page.evaluate("fetch('/field/sw.js').then(r => [r.status, r.headers.get('content-type')])")
        assert sw[0] == 200 and sw[1].startswith("text/javascript")
        watch.assert_clean()
        # No network at all: the page, its bundles, my grid's tiles and the last answers come from the cache.
        context.set_offline(True)
        page.reload()
        wait_ready(page)
        assert page.evaluate("window.__onenet.me().grids.length") == 1
        assert page.evaluate("navigator.onLine") is False
        assert watch.outside == []
    finally:
        context.close()
