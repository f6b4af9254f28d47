"""The map pages' own endpoints, in-process: areas, open cases by light, the three indicator panels,
public "Where am I?", public reports with their receipt and status, the rate limit, the folium export.

The browser tests (tests/test_pages.py) drive the pages; these check the numbers against the ORM.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from cases.models import Attachment, Case, CaseStatus
from cases.models.case import FINAL_STATES
from cases.serialize import case_light
from frontend.api import PEOPLE, open_now
from gisapp.accounts.models import Profile
from layers.models import AdminUnit, Building, Grid, GridWorker, Resident, ServiceStation

pytestmark = pytest.mark.django_db
PASSWORD = "onenet-demo"
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.7"}  # TEST-NET-3: never the browser tests' 127.0.0.1 buckets
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
    b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def dispatcher(client):
    assert client.login(username="dispatcher", password=PASSWORD)
    return client


@pytest.fixture
def street() -> AdminUnit:
    return AdminUnit.objects.filter(level="street").order_by("code").first()


@pytest.fixture
def spot():
    b = Building.objects.order_by("id").first()
    return b.point.x, b.point.y, b


# ------------------------------------------------------------------------------------------ pages
def test_pages_render_and_dispatch_needs_a_login(client):
    public = client.get("/")
    assert public.status_code == 200
    html = public.content.decode()
    assert 'id="onenet-config"' in html and "/static/app/" in html and 'type="module"' in html
    assert not re.search(r'(src|href)="https?://', html)  # nothing from another host
    anonymous = client.get("/dispatch/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    login_page = client.get(anonymous["Location"])
    assert login_page.status_code == 200 and "用户名" in login_page.content.decode()
    assert client.login(username="dispatcher", password=PASSWORD)
    page = client.get("/dispatch/")
    assert page.status_code == 200 and "csrftoken" in page.cookies
    assert '"jurisdiction"' in page.content.decode()


# ------------------------------------------------------------------------------------------ areas
def test_areas_drill_down_the_five_levels(client):
    root = client.get("/api/map/areas/root").json()
    assert root["level"] == "city" and root["chain"] == [
        {"code": root["code"], "name": root["name"], "level": "city"}
    ]
    assert root["geometry"]["type"] in ("Polygon", "MultiPolygon") and len(root["bbox"]) == 4
    code = root["code"]
    for level in ("district", "street", "community", "grid"):
        area = client.get(f"/api/map/areas/{code}").json()
        child = area["children"][0]
        assert child["level"] == level
        code = child["code"]
    grid = client.get(f"/api/map/areas/{code}").json()
    assert grid["level"] == "grid" and [c["level"] for c in grid["chain"]] == [
        "city", "district", "street", "community", "grid",
    ]  # fmt: skip
    community = AdminUnit.objects.get(code=grid["chain"][3]["code"])
    current = Grid.objects.current().filter(community=community, net__follows_communities=True)
    assert {c["code"] for c in client.get(f"/api/map/areas/{community.code}").json()["children"]} == set(
        current.values_list("code", flat=True)
    )
    assert client.get("/api/map/areas/999999999999999").status_code == 404
    assert client.get("/api/map/areas/x;drop").status_code == 400


# ------------------------------------------------------------------------------------------ open cases
def test_open_cases_by_light_only_inside_the_jurisdiction(client, dispatcher):
    fc = dispatcher.get("/api/map/cases.geojson").json()
    expected = Case.objects.exclude(status__in=FINAL_STATES).filter(geom__isnull=False)
    assert len(fc["features"]) == expected.count() > 0
    by_number = {f["properties"]["number"]: f for f in fc["features"]}
    for case in expected.select_related("category")[:200]:
        assert by_number[case.number]["properties"]["light"] == case_light(case)
    client.logout()
    assert client.get("/api/map/cases.geojson").status_code == 401
    worker = Profile.objects.get(user__username="worker")
    assert client.login(username="worker", password=PASSWORD)
    mine = client.get("/api/map/cases.geojson").json()["features"]
    assert mine and all(f["properties"]["grid_code"] == worker.jurisdiction_code for f in mine)


# ------------------------------------------------------------------------------------------ panels
def test_people_panel_counts_and_never_lists(dispatcher, street):
    PEOPLE.clear()
    body = dispatcher.get(f"/api/map/indicators/people?area={street.code}").json()
    buildings = Building.objects.filter(grid_code__startswith=street.code)
    sums = buildings.aggregate(h=Sum("households"), r=Sum("residents"))
    assert body["buildings"] == buildings.count()
    assert body["households"] == sums["h"] and body["residents"] == sums["r"]
    people = Resident.objects.filter(house_unit__building__grid_code__startswith=street.code)
    for group in body["special_groups"]:
        assert group["count"] == people.filter(tags__contains=[group["tag"]]).count()
    text = str(body)
    one = people.exclude(tags=[]).first()
    assert one.name not in text and one.id_number not in text  # counted, never listed


def test_panels_are_clipped_to_the_jurisdiction(client):
    worker = Profile.objects.get(user__username="worker")
    assert client.login(username="worker", password=PASSWORD)
    district = worker.jurisdiction_code[:6]
    body = client.get(f"/api/map/indicators/people?area={district}").json()
    assert body["area"] == worker.jurisdiction_code
    assert body["buildings"] == Building.objects.filter(grid_code=worker.jurisdiction_code).count()
    other = Grid.objects.current().exclude(code=worker.jurisdiction_code).filter(net__code="comprehensive")
    assert client.get(f"/api/map/indicators/events?area={other.first().code}").status_code == 403
    assert client.get("/api/map/indicators/operations?area=abc").status_code == 400
    client.logout()
    assert client.get("/api/map/indicators/people").status_code == 401


def test_events_panel_matches_the_cases(dispatcher, street):
    body = dispatcher.get(f"/api/map/indicators/events?area={street.code}").json()
    cases = Case.objects.filter(grid_code__startswith=street.code)
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    assert body["today"] == cases.filter(reported_at__gte=today).count()
    assert body["month"] == cases.filter(reported_at__gte=month).count()
    open_cases = cases.exclude(status__in=FINAL_STATES)
    assert body["open"] == open_cases.count() == sum(body["by_light"].values())
    lights = {"green": 0, "yellow": 0, "red": 0}
    for c in open_cases:
        lights[case_light(c)] += 1
    assert body["by_light"] == lights
    assert sum(c["count"] for c in body["by_category"]) == body["month"]
    assert len(body["trend"]) == 30 and body["trend"][-1]["day"] == today.date().isoformat()
    since = today - dt.timedelta(days=29)
    assert sum(p["reported"] for p in body["trend"]) == cases.filter(reported_at__gte=since).count()
    if body["month_due"]:
        assert 0 <= body["on_time_rate"] <= body["closure_rate"] <= 1


def test_operations_panel(dispatcher, street):
    body = dispatcher.get(f"/api/map/indicators/operations?area={street.code}").json()
    workers = GridWorker.objects.filter(grid_code__startswith=street.code)
    assert body["grid_workers"] == workers.count()
    by_role = dict(workers.values_list("role").annotate(n=Count("id")))
    assert {r["role"]: r["count"] for r in body["grid_workers_by_role"] if r["count"]} == by_role
    assert body["overdue"] == (
        Case.objects.filter(grid_code__startswith=street.code, deadline__lt=timezone.now())
        .exclude(status__in=FINAL_STATES)
        .count()
    )
    assert body["checked_in_today"] == 0 and body["patrols_today"] == 0 and body["patrol_km_today"] == 0


def test_operations_panel_counts_todays_check_ins_and_patrols(dispatcher, street):
    """Workers checked in today (each once, however often), today's tracks and kilometres, in the area."""
    from django.contrib.gis.geos import Point

    from field.services import append_points
    from layers.models import CheckIn, Patrol

    inside = list(GridWorker.objects.filter(grid_code__startswith=street.code).order_by("id")[:2])
    outside = GridWorker.objects.exclude(grid_code__startswith=street.code).first()
    here = Building.objects.filter(grid_code=inside[0].grid_code).first().point
    yesterday = timezone.now() - dt.timedelta(days=1, hours=1)
    now = timezone.now()
    visits = [(inside[0], now), (inside[0], now), (inside[1], now), (outside, now), (inside[1], yesterday)]
    for n, (w, at) in enumerate(visits):
        spot = Point(here.x, here.y, srid=4490)
        CheckIn.objects.create(worker=w, at=at, geom=spot, grid_code=w.grid_code, client_key=f"k{n}")
    t0 = now - dt.timedelta(minutes=20)
    pts = [
        {"lon": here.x + i * 0.001, "lat": here.y, "t": (t0 + dt.timedelta(minutes=i)).isoformat()}
        for i in range(3)
    ]
    append_points(inside[0], {"points": pts}, "batch-one")
    append_points(outside, {"points": pts}, "batch-two")
    body = dispatcher.get(f"/api/map/indicators/operations?area={street.code}").json()
    assert body["checked_in_today"] == 2
    km = Patrol.objects.get(worker=inside[0]).length_m / 1000
    assert body["patrols_today"] == 1 and body["patrol_km_today"] == pytest.approx(km, abs=0.01) and km > 0.1
    whole = dispatcher.get("/api/map/indicators/operations").json()
    assert whole["checked_in_today"] == 3 and whole["patrols_today"] == 2


def test_dispatch_suggestion_and_lists(dispatcher):
    from cases import routing

    case = (
        Case.objects.exclude(status__in=FINAL_STATES).exclude(grid_code="").select_related("category").first()
    )
    body = dispatcher.get(f"/api/map/cases/{case.number}/suggestion").json()
    route, department = routing.suggest(case)
    assert body["level"] == route.acts_at
    assert (body["department"] or {}).get("code") == (department.code if department else None)
    assert dispatcher.get("/api/map/cases/AJ00000000000000/suggestion").status_code == 404
    assert dispatcher.get("/api/map/departments").json()["departments"]
    cats = dispatcher.get("/api/map/categories").json()["categories"]
    assert cats and all(c["class_code"] for c in cats)


# ------------------------------------------------------------------------------------------ public
def test_some_grid_workers_publish_their_contact():
    published = GridWorker.objects.filter(publish_contact=True)
    assert published.exists() and GridWorker.objects.filter(publish_contact=False).exists()
    assert not published.exclude(role="full_time").exists()


def test_nearby_gives_my_grid_published_workers_and_nearest_stations(client, spot):
    lon, lat, building = spot
    body = client.get(f"/api/public/nearby?lon={lon}&lat={lat}").json()
    assert body["grid"]["code"] == building.grid_code
    assert body["community"]["code"] == building.grid_code[:12]
    expected = GridWorker.objects.filter(grid_code=building.grid_code, publish_contact=True)
    assert {w["name"] for w in body["workers"]} == set(expected.values_list("name", flat=True))
    hidden = GridWorker.objects.filter(grid_code=building.grid_code, publish_contact=False)
    for w in hidden:
        assert w.phone not in str(body)
    distances = [s["distance_m"] for s in body["stations"]]
    assert distances == sorted(distances) and len(distances) == 5
    from django.contrib.gis.db.models.functions import Distance

    nearest = (
        ServiceStation.objects.filter(is_public=True)
        .annotate(d=Distance("geom", building.point))
        .order_by("d")
        .first()
    )
    assert body["stations"][0]["name"] == nearest.name
    assert client.get("/api/public/nearby?lon=abc&lat=1").status_code == 400


@pytest.mark.parametrize(
    "hours, at, expected",
    [
        ("全天", "2026-11-22 03:00", True),
        ("周一至周日 全天", "2026-11-22 03:00", True),
        ("每日 8:00-20:00", "2026-11-22 07:59", False),
        ("每日 8:00-20:00", "2026-11-22 08:00", True),
        ("周一至周五 8:30-17:00", "2026-11-20 12:00", True),  # a Friday
        ("周一至周五 8:30-17:00", "2026-11-22 12:00", False),  # a Sunday
        ("请电话预约", "2026-11-22 12:00", None),
        ("", "2026-11-22 12:00", None),
    ],
)
def test_open_now_reads_station_hours(hours, at, expected):
    when = timezone.make_aware(dt.datetime.fromisoformat(at))
    assert open_now(hours, when) is expected


def _report(client, key=None, **fields):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/public/reports", fields, **headers, **ELSEWHERE)


def test_public_report_round_trip(client, spot):
    lon, lat, building = spot
    key = "k" * 20
    photo = io.BytesIO(PNG)
    photo.name = "p.png"
    r = _report(client, key, category="SJ0101", description="路灯不亮", lon=lon, lat=lat, photo=photo)
    assert r.status_code == 201, r.content
    number = r.json()["number"]
    case = Case.objects.get(number=number)
    assert case.channel == "public" and case.reporter is None and case.grid_code == building.grid_code
    assert case.idempotency_key.startswith("public:") and key not in case.idempotency_key
    assert Attachment.objects.filter(case=case, event__isnull=False, content_type="image/png").count() == 1
    again = _report(client, key, category="SJ0101", description="路灯不亮", lon=lon, lat=lat)
    assert again.status_code == 200 and again.json()["number"] == number
    status = client.get(f"/api/public/reports/{number}", **ELSEWHERE).json()
    assert set(status) == {
        "number",
        "category",
        "category_name",
        "status",
        "status_label",
        "reported_at",
        "closed_at",
    }
    assert status["status"] == "open" and status["closed_at"] is None
    by_address = _report(client, "a" * 20, category="SJ0101", address=building.address)
    assert by_address.status_code == 201 and by_address.json()["placed"] is True


def test_public_reports_refuse_bad_input(client, spot):
    lon, lat, _ = spot
    before = Case.objects.count()
    assert _report(client, category="SJ0101").status_code == 400  # nowhere
    assert _report(client, category="NOPE", lon=lon, lat=lat).status_code == 400
    assert _report(client, "short", category="SJ0101", lon=lon, lat=lat).status_code == 400
    assert _report(client, category="SJ0101", lon=116.4, lat=39.9).status_code == 422  # not in the city
    fake = io.BytesIO(b"<html>not an image</html>")
    fake.name = "x.png"
    assert _report(client, category="SJ0101", lon=lon, lat=lat, photo=fake).status_code == 415
    assert Case.objects.count() == before


def test_public_status_shows_nothing_of_internal_cases(client):
    internal = Case.objects.filter(channel="hotline").first()
    assert client.get(f"/api/public/reports/{internal.number}", **ELSEWHERE).status_code == 404
    closed = Case.objects.filter(channel="public", status=CaseStatus.CLOSED).first()
    body = client.get(f"/api/public/reports/{closed.number}", **ELSEWHERE).json()
    assert body["status"] == "closed" and body["closed_at"]
    assert closed.description not in str(body) or not closed.description


def test_public_reports_are_rate_limited_per_ip(client, spot, settings):
    settings.ONENET_RATE_LIMITS = {"public_report": "2/600"}
    lon, lat, _ = spot
    codes = [_report(client, category="SJ0101", lon=lon, lat=lat).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    refused = _report(client, category="SJ0101", lon=lon, lat=lat)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    other = client.post(
        "/api/public/reports", {"category": "SJ0101", "lon": lon, "lat": lat}, REMOTE_ADDR="198.51.100.9"
    )
    assert other.status_code == 201  # another client is not affected
    from gisapp.ratelimit.models import RateLimitBucket

    assert not RateLimitBucket.objects.filter(client__contains="203.0.113").exists()  # hashed, not stored


# ------------------------------------------------------------------------------------------ export
NO_REMOTE = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.I
)
SCRIPT_BODY = re.compile(r"<script>.*?</script>", re.S)


def remote_resources(html: str) -> list[str]:
    """What the page would fetch from another host: tag attributes and CSS urls (string literals inside
    inline scripts, such as Leaflet's SVG namespace, fetch nothing)."""
    return NO_REMOTE.findall(SCRIPT_BODY.sub("<script></script>", html))


def test_situation_map_of_a_grid_is_standalone(client, dispatcher):
    grid = Grid.objects.current().filter(net__code="comprehensive").order_by("code").first()
    r = dispatcher.get(f"/api/map/export/grid/{grid.code}.html")
    assert r.status_code == 200 and r["Content-Disposition"].startswith("attachment;")
    html = r.content.decode()
    assert remote_resources(html) == []
    assert "L.map(" in html or "L.map (" in html  # Leaflet inlined, map created
    assert grid.name in html and "layers.png" not in html
    assert "WenQuanYi" in html
    resident = Resident.objects.filter(house_unit__building__grid_code=grid.code).first()
    if resident:
        assert resident.name not in html and resident.id_number not in html
    client.logout()
    assert client.get(f"/api/map/export/grid/{grid.code}.html").status_code == 401
    assert client.login(username="worker", password=PASSWORD)
    worker = Profile.objects.get(user__username="worker")
    other = Grid.objects.current().filter(net__code="comprehensive").exclude(code=worker.jurisdiction_code)
    assert client.get(f"/api/map/export/grid/{other.first().code}.html").status_code == 403


def test_situation_map_of_a_case(dispatcher):
    case = Case.objects.exclude(status__in=FINAL_STATES).filter(geom__isnull=False).first()
    r = dispatcher.get(f"/api/map/export/case/{case.number}.html")
    assert r.status_code == 200
    html = r.content.decode()
    assert case.number in html and remote_resources(html) == []
    if case.reporter_contact:
        assert case.reporter_contact not in html


def test_department_staff_see_their_cases_and_no_area(client):
    """Department staff have no area: the case layer and case counts show their department's cases,
    the people panel nothing."""
    staff = Profile.objects.get(user__username="department")
    assert client.login(username="department", password=PASSWORD)
    features = client.get("/api/map/cases.geojson").json()["features"]
    theirs = set(
        Case.objects.filter(department_id=staff.department_id)
        .exclude(status__in=FINAL_STATES)
        .filter(geom__isnull=False)
        .values_list("number", flat=True)
    )
    assert {f["properties"]["number"] for f in features} == theirs
    events = client.get("/api/map/indicators/events").json()
    open_cases = Case.objects.filter(department_id=staff.department_id).exclude(status__in=FINAL_STATES)
    assert events["open"] == open_cases.count()  # placed or not
    assert client.get("/api/map/indicators/people").status_code == 403
