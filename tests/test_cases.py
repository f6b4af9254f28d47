"""The case loop over the REST API: intake, placement, routing, every path of the loop, refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.utils import DatabaseError

from cases.calendar import LOCAL, CalendarSpec, add_working_hours
from cases.models import Case, CaseEvent, Holiday
from geocoding.crs import wgs84_to_gcj02
from gisapp.accounts.models import Profile
from layers.models import Building

pytestmark = pytest.mark.django_db
PASSWORD = "onenet-demo"


def login(client, username: str) -> dict:
    token = client.post("/api/auth/token", {"username": username, "password": PASSWORD}).json()["token"]
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def worker_grid() -> str:
    return Profile.objects.get(user__username="worker").jurisdiction_code


@pytest.fixture
def spot(worker_grid):
    """A building inside the demo worker's grid: (lon, lat, building)."""
    b = Building.objects.filter(grid_code=worker_grid).order_by("id").first()
    return b.point.x, b.point.y, b


def report(client, auth, category="SJ0101", lon=None, lat=None, key=None, **extra):
    body = {"category": category, "description": "测试", **extra}
    if lon is not None:
        body["location"] = {"lon": lon, "lat": lat, "crs": extra.pop("crs", "EPSG:4490")}
    headers = dict(auth)
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post("/api/cases", body, content_type="application/json", **headers)


def act(client, auth, number, transition, **payload):
    return client.post(
        f"/api/cases/{number}/transitions",
        {"transition": transition, **payload},
        content_type="application/json",
        **auth,
    )


def test_a_report_is_placed_numbered_and_timed(client, spot, worker_grid):
    auth = login(client, "worker")
    lon, lat, building = spot
    r = report(client, auth, lon=lon, lat=lat)
    assert r.status_code == 201, r.content
    case = r.json()
    assert case["number"].startswith("AJ") and case["status"] == "reported"
    assert case["grid_code"] == worker_grid == building.grid_code
    assert set(case["grids"]) >= {"police", "mediation"} and worker_grid in case["grids"].values()
    assert case["building_id"] == building.pk
    assert case["deadline"] and case["light"] == "green"
    assert [e["action"] for e in case["trail"]] == ["report"]
    assert case["channel"] == "grid_worker"


def test_same_idempotency_key_gives_the_same_case(client, spot):
    auth = login(client, "worker")
    before = Case.objects.count()
    first = report(client, auth, lon=spot[0], lat=spot[1], key="phone-1-report-77")
    again = report(client, auth, lon=spot[0], lat=spot[1], key="phone-1-report-77")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["number"] == again.json()["number"]
    assert Case.objects.count() == before + 1


def test_gcj02_location_is_converted(client, spot, worker_grid):
    auth = login(client, "worker")
    glon, glat = wgs84_to_gcj02(spot[0], spot[1])
    assert abs(glon - spot[0]) > 1e-3  # the offset is real: hundreds of metres
    case = report(client, auth, lon=float(glon), lat=float(glat), crs="GCJ02").json()
    assert case["grid_code"] == worker_grid
    assert abs(case["lon"] - spot[0]) < 1e-7 and abs(case["lat"] - spot[1]) < 1e-7


@pytest.mark.parametrize(
    "body, status",
    [
        ({"category": "NOPE", "location": {"lon": 125.95, "lat": 46.58}}, 400),
        ({"category": "SJ01", "location": {"lon": 125.95, "lat": 46.58}}, 400),  # a class, not an item
        ({"category": "SJ0101"}, 400),
        ({"category": "SJ0101", "location": {"lon": "x", "lat": 46.58}}, 400),
        ({"category": "SJ0101", "location": [125.95, 46.58]}, 400),
        ({"category": "SJ0101", "location": {"lon": 125.95, "lat": 46.58, "crs": "EPSG:9999"}}, 400),
        ({"category": "SJ0101", "location": {"lon": 116.4, "lat": 39.9}}, 422),  # Beijing: not our city
        ({"category": "SJ0101", "description": "x" * 5000, "location": {"lon": 125.95, "lat": 46.58}}, 400),
        ({"category": ["SJ0101"], "location": {"lon": 125.95, "lat": 46.58}}, 400),
    ],
)
def test_bad_reports_are_refused_and_nothing_is_written(client, body, status):
    auth = login(client, "worker")
    before = (Case.objects.count(), CaseEvent.objects.count())
    r = client.post("/api/cases", body, content_type="application/json", **auth)
    assert r.status_code == status, r.content
    assert r.json()["error"]["zh"] and r.json()["error"]["en"]
    assert (Case.objects.count(), CaseEvent.objects.count()) == before


def test_swapped_axes_get_a_hint(client, spot):
    auth = login(client, "worker")
    r = client.post(
        "/api/cases",
        {"category": "SJ0101", "location": {"lon": spot[1], "lat": spot[0]}},
        content_type="application/json",
        **auth,
    )
    assert r.status_code == 422 and r.json()["hint"] == "swapped_axes"


def test_malformed_json_and_anonymous(client):
    assert (
        client.post(
            "/api/cases", "{nope", content_type="application/json", **login(client, "worker")
        ).status_code
        == 400
    )
    assert client.get("/api/cases").status_code == 401


def test_the_whole_loop(client, spot, worker_grid):
    worker, dispatcher = login(client, "worker"), login(client, "dispatcher")
    number = report(client, worker, lon=spot[0], lat=spot[1]).json()["number"]
    steps = [
        (dispatcher, "register", {}, "registered"),
        (dispatcher, "dispatch", {}, "dispatched"),  # trivial SJ0101: the routing keeps it in the grid
        (worker, "accept", {}, "in_progress"),
        (worker, "handle", {"result": "已清理"}, "handled"),
        (dispatcher, "close", {}, "closed"),
        (dispatcher, "evaluate", {"rating": 5}, "evaluated"),
    ]
    for auth, name, payload, status in steps:
        r = act(client, auth, number, name, **payload)
        assert r.status_code == 200, (name, r.content)
        assert r.json()["status"] == status
    case = client.get(f"/api/cases/{number}", **dispatcher).json()
    assert case["assignee"] == {"level": "grid", "code": worker_grid, "department": None}
    assert [e["action"] for e in case["trail"]] == [
        "report",
        "register",
        "dispatch",
        "accept",
        "handle",
        "close",
        "evaluate",
    ]
    assert case["trail"][2]["changes"]["suggested"]["level"] == "grid"
    assert case["rating"] == 5 and case["light"] == "green"


@pytest.mark.parametrize(
    "category, level, department",
    [
        ("SJ0101", "grid", None),  # trivial: stays in the grid
        ("SJ0301", "community", None),  # small: the community
        ("SJ0302", "street", None),  # big (illegal construction): the street
        ("SJ0401", "district", None),  # emergency: straight to the command centre
        ("BJ0102", "department", "供电公司"),  # a street light: its owner
        ("BJ0101", "department", "水务公司"),  # a manhole cover: the water company whose area holds it
    ],
)
def test_routing_rules(client, spot, category, level, department):
    worker, dispatcher = login(client, "worker"), login(client, "dispatcher")
    number = report(client, worker, category=category, lon=spot[0], lat=spot[1]).json()["number"]
    act(client, dispatcher, number, "register")
    case = act(client, dispatcher, number, "dispatch").json()
    assert case["assignee"]["level"] == level
    assert case["assignee"]["department"] == department
    assert case["due_at"] and case["deadline"]


def test_escalation_climbs_one_level_at_a_time(client, spot, worker_grid):
    worker, dispatcher = login(client, "worker"), login(client, "dispatcher")
    number = report(client, worker, lon=spot[0], lat=spot[1]).json()["number"]
    act(client, dispatcher, number, "register")
    act(client, dispatcher, number, "dispatch")
    r = act(client, worker, number, "escalate", reason="需要社区协调")
    assert r.json()["assignee"] == {"level": "community", "code": worker_grid[:12], "department": None}
    for level, n in (("street", 9), ("district", 6)):
        r = act(client, dispatcher, number, "escalate", reason="上报")
        assert r.json()["assignee"]["level"] == level and r.json()["assignee"]["code"] == worker_grid[:n]
    r = act(client, dispatcher, number, "escalate", reason="上报")
    assert r.status_code == 409


def test_return_extension_and_rework(client, spot):
    worker, dispatcher = login(client, "worker"), login(client, "dispatcher")
    number = report(client, worker, lon=spot[0], lat=spot[1]).json()["number"]
    act(client, dispatcher, number, "register")
    act(client, dispatcher, number, "dispatch")
    assert act(client, worker, number, "return", reason="不属于本网格").json()["status"] == "returned"
    assert act(client, dispatcher, number, "dispatch").json()["status"] == "dispatched"
    act(client, worker, number, "accept")
    before = client.get(f"/api/cases/{number}", **dispatcher).json()["deadline"]
    assert act(client, worker, number, "request_extension", reason="等待材料", hours=8).status_code == 200
    assert act(client, worker, number, "request_extension", reason="再等", hours=8).status_code == 409
    granted = act(client, dispatcher, number, "grant_extension").json()
    assert granted["deadline"] > before
    assert act(client, worker, number, "request_extension", reason="x", hours=999).status_code == 400
    act(client, worker, number, "handle", result="已处理")
    reworked = act(client, dispatcher, number, "rework", reason="现场仍有垃圾").json()
    assert reworked["status"] == "in_progress"
    case = Case.objects.get(number=number)
    assert (case.reworks, case.extensions) == (1, 1)


def test_duplicates_are_flagged_merged_and_told_the_outcome(client, spot):
    worker, dispatcher = login(client, "worker"), login(client, "dispatcher")
    first = report(client, worker, lon=spot[0], lat=spot[1]).json()["number"]
    second = report(client, worker, lon=spot[0] + 0.0001, lat=spot[1]).json()
    assert first in second["duplicate_candidates"]
    assert act(client, dispatcher, second["number"], "merge", into=first).json()["status"] == "merged"
    for name, payload in (("register", {}), ("dispatch", {})):
        act(client, dispatcher, first, name, **payload)
    act(client, worker, first, "accept")
    act(client, worker, first, "handle", result="已清理")
    act(client, dispatcher, first, "close")
    merged = client.get(f"/api/cases/{second['number']}", **worker).json()
    assert merged["merged_into"] == first and first in merged["result"]
    assert merged["trail"][-1]["action"] == "outcome"


def test_jurisdiction_other_grid_worker_and_department(client, spot, worker_grid):
    worker, dispatcher = login(client, "worker"), login(client, "dispatcher")
    number = report(client, worker, lon=spot[0], lat=spot[1]).json()["number"]
    other = Profile.objects.filter(role="grid_worker").exclude(jurisdiction_code=worker_grid).first()
    stranger = login(client, other.user.username)
    assert client.get(f"/api/cases/{number}", **stranger).status_code == 404
    assert act(client, stranger, number, "comment", comment="看看").status_code == 404
    assert all(
        c["grid_code"] == other.jurisdiction_code
        for c in client.get("/api/cases?limit=100", **stranger).json()["results"]
    )
    department = login(client, "department")  # 城市管理局
    assert client.get(f"/api/cases/{number}", **department).status_code == 404
    act(client, dispatcher, number, "register")
    act(client, dispatcher, number, "dispatch", assignee={"level": "department", "department": "CGJ"})
    assert client.get(f"/api/cases/{number}", **department).status_code == 200
    assert act(client, worker, number, "accept").status_code == 403  # the grid is no longer the assignee
    assert act(client, department, number, "accept").json()["status"] == "in_progress"


def test_refusals_write_nothing(client, spot):
    worker, dispatcher = login(client, "worker"), login(client, "dispatcher")
    case = report(client, worker, lon=spot[0], lat=spot[1]).json()
    number = case["number"]
    events = CaseEvent.objects.filter(case__number=number).count()
    assert act(client, worker, number, "register").status_code == 403  # a worker does not register
    assert act(client, dispatcher, number, "close").status_code == 409  # not handled yet
    assert act(client, dispatcher, number, "fly").status_code == 400
    assert act(client, dispatcher, number, "reject").status_code == 400  # reason missing
    ok = act(client, dispatcher, number, "register", version=case["version"])
    assert ok.status_code == 200
    stale = act(client, dispatcher, number, "reject", reason="重复", version=case["version"])
    assert stale.status_code == 409  # a second dispatcher acting on what they saw before
    assert CaseEvent.objects.filter(case__number=number).count() == events + 1
    assert Case.objects.get(number=number).status == "registered"


def test_resolve_on_spot_by_the_grid_worker(client, spot):
    worker = login(client, "worker")
    number = report(client, worker, lon=spot[0], lat=spot[1]).json()["number"]
    case = act(client, worker, number, "resolve_on_spot", result="已现场劝离").json()
    assert case["status"] == "closed" and case["assignee"]["level"] == "grid"


def test_place_me_queue_relocate(client, spot):
    dispatcher = login(client, "dispatcher")
    number = report(client, dispatcher, lon=spot[0], lat=spot[1]).json()["number"]
    Case.objects.filter(number=number).update(needs_placement=True)
    queue = client.get("/api/cases?needs_placement=true", **dispatcher).json()
    assert number in [c["number"] for c in queue["results"]]
    moved = act(client, dispatcher, number, "relocate", location={"lon": spot[0], "lat": spot[1]}).json()
    assert moved["needs_placement"] is False


def test_list_filters_and_lights(client):
    dispatcher = login(client, "dispatcher")
    red = client.get("/api/cases?light=red&limit=5", **dispatcher).json()
    assert red["count"] > 0 and all(c["light"] == "red" for c in red["results"])
    closed = client.get("/api/cases?status=closed,evaluated&limit=5", **dispatcher).json()
    assert all(c["status"] in ("closed", "evaluated") for c in closed["results"])
    assert client.get("/api/cases?colour=red", **dispatcher).status_code == 400
    assert client.get("/api/cases?light=purple", **dispatcher).status_code == 400
    assert client.get("/api/cases?limit=100000", **dispatcher).status_code == 400
    overdue = client.get("/api/cases/overdue", **dispatcher).json()
    assert overdue["count"] == red["count"]


def test_deadline_over_a_holiday_weekend():
    """Friday 17:55 before a Monday holiday: a 4-hour deadline lands Tuesday 14:00."""
    friday = dt.datetime(2026, 10, 2, 17, 55, tzinfo=LOCAL)
    cal = CalendarSpec(holidays=frozenset({dt.date(2026, 10, 5)}))
    assert add_working_hours(friday, 4, cal) == dt.datetime(2026, 10, 6, 14, 0, tzinfo=LOCAL)
    # a worked Saturday (调休) counts
    cal = CalendarSpec(holidays=frozenset({dt.date(2026, 10, 5)}), workdays=frozenset({dt.date(2026, 10, 3)}))
    assert add_working_hours(friday, 4, cal) == dt.datetime(2026, 10, 3, 14, 0, tzinfo=LOCAL)


def test_deadlines_use_the_database_calendar():
    from cases.deadlines import deadline_for
    from cases.models import Category

    Holiday.objects.create(date=dt.date(2026, 10, 5), name="测试假日")
    friday = dt.datetime(2026, 10, 2, 17, 55, tzinfo=LOCAL)
    register = deadline_for(Category.objects.get(code="SJ0101"), "register", friday)  # 2 working hours
    assert register == dt.datetime(2026, 10, 6, 10, 30, tzinfo=LOCAL)


def test_the_trail_is_append_only():
    event = CaseEvent.objects.first()
    with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cur:
        cur.execute("update cases_caseevent set action = 'forged' where id = %s", [event.pk])


def test_an_address_is_geocoded_or_queued_for_a_dispatcher(client, spot):
    worker = login(client, "worker")
    building = spot[2]
    r = client.post(
        "/api/cases",
        {"category": "SJ0101", "address": building.address},
        content_type="application/json",
        **worker,
    )
    assert r.status_code == 201, r.content
    case = r.json()
    assert case["building_id"] == building.pk and case["grid_code"] == building.grid_code
    assert case["needs_placement"] is False
    vague = client.post(
        "/api/cases",
        {"category": "SJ0101", "address": "那边路口的垃圾堆旁边"},
        content_type="application/json",
        **worker,
    ).json()
    assert vague["needs_placement"] is True and vague["grid_code"] is None
    dispatcher = login(client, "dispatcher")
    queue = client.get("/api/cases?needs_placement=true", **dispatcher).json()
    assert vague["number"] in [c["number"] for c in queue["results"]]
    # an unplaced case cannot be dispatched before it is placed
    act(client, dispatcher, vague["number"], "register")
    assert act(client, dispatcher, vague["number"], "dispatch").status_code == 409


def test_batch_import_is_all_or_nothing_and_idempotent(tmp_path, spot):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    lon, lat, building = spot
    good = tmp_path / "good.csv"
    good.write_text(
        "id,category,description,lon,lat,address\n"
        f"r1,SJ0101,垃圾,{lon},{lat},\n"
        f"r2,BJ0102,路灯不亮,,,{building.address}\n",
        encoding="utf-8",
    )
    before = Case.objects.count()
    call_command("import_cases", str(good), "--quiet")
    assert Case.objects.count() == before + 2
    call_command("import_cases", str(good), "--quiet")  # the same file again: nothing new
    assert Case.objects.count() == before + 2
    assert Case.objects.filter(channel="batch", building=building).count() == 2
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"category,lon,lat\nSJ0101,{lon},{lat}\nNOPE,{lon},{lat}\nSJ0101,116.4,39.9\n", encoding="utf-8"
    )
    with pytest.raises(CommandError, match="2"):
        call_command("import_cases", str(bad), "--quiet")
    assert Case.objects.count() == before + 2


def test_the_openapi_document_lists_the_case_api(client):
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/cases", "/api/cases/{number}", "/api/cases/{number}/transitions", "/api/auth/token"):
        assert path in doc["paths"], path
    enum = doc["components"]["schemas"]["TransitionRequest"]["properties"]["transition"]["enum"]
    from cases.workflow import TRANSITIONS

    assert set(enum) == set(TRANSITIONS)


def test_the_working_calendar_is_seeded_with_holidays_and_tiaoxiu_and_keeps_admin_edits():
    """chinese-calendar's statutory holidays and worked weekend days become Holiday rows; a second run
    adds nothing, and a day an administrator removed from a seeded year stays removed."""
    from django.core.management import call_command

    from cases.calendar import clear_cache
    from cases.deadlines import deadline_for
    from cases.models import Category

    try:
        Holiday.objects.all().delete()
        call_command("seed_calendar", verbosity=0)
        national = Holiday.objects.get(date=dt.date(2026, 10, 1))
        assert national.name == "国庆节" and not national.workday
        worked = Holiday.objects.get(date=dt.date(2026, 10, 10))  # a Saturday worked for National Day
        assert worked.workday and worked.name == "国庆节调休上班"
        assert Holiday.objects.filter(date__year=2004).exists()
        count = Holiday.objects.count()
        assert count > 700
        # Deadlines count on it: a report at the end of the last working day before National Day is
        # registered (2 working hours) on the first working day after it.
        before = dt.datetime(2026, 9, 30, 17, 0, tzinfo=LOCAL)
        category = Category.objects.get(code="SJ0101")
        assert deadline_for(category, "register", before) == dt.datetime(2026, 10, 8, 10, 0, tzinfo=LOCAL)
        Holiday.objects.filter(date=dt.date(2026, 10, 7)).delete()  # the administrator's override
        call_command("seed_calendar", verbosity=0)
        assert Holiday.objects.count() == count - 1
        clear_cache()
        assert deadline_for(category, "register", before) == dt.datetime(2026, 10, 7, 10, 0, tzinfo=LOCAL)
    finally:
        clear_cache()  # the rows roll back with the test; the memo must not outlive them
