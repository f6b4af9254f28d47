"""The field page's API (/api/field/…) in-process: the worker's grid and cases nearest first, check-ins
and patrol batches stored exactly once per key, jurisdiction (a worker checks in only in their own grid
and sees only their own track), bad input refused with 4xx and nothing written."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import Case
from geocoding.crs import wgs84_to_gcj02
from layers.models import Building, CheckIn, Grid, GridWorker, Patrol, PatrolPoint

pytestmark = pytest.mark.django_db
PASSWORD = "onenet-demo"


def key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def me() -> GridWorker:
    return GridWorker.objects.select_related("user").get(user__username="worker")


@pytest.fixture
def worker(client, me):
    assert client.login(username="worker", password=PASSWORD)
    return client


@pytest.fixture
def spot(me):
    """A building inside the demo worker's grid: (lon, lat)."""
    b = Building.objects.filter(grid_code=me.grid_code).order_by("id").first()
    return b.point.x, b.point.y


@pytest.fixture
def elsewhere(me):
    """A building in another comprehensive grid far from the worker's: (lon, lat, grid code)."""
    b = Building.objects.exclude(grid_code__startswith=me.grid_code[:12]).order_by("-id").first()
    return b.point.x, b.point.y, b.grid_code


def post(client, url: str, body, idem: str | None = None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": idem} if idem else {}
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **headers, **extra)


def checkin(client, lon, lat, crs="EPSG:4490", idem=None, **extra):
    body = {"location": {"lon": lon, "lat": lat, "crs": crs}, **extra}
    return post(client, "/api/field/checkins", body, idem or key())


def points_along(lon: float, lat: float, n: int = 5, step: float = 0.0002, minutes_ago: int = 30):
    start = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return [
        {"lon": lon + i * step, "lat": lat, "t": (start + dt.timedelta(minutes=i)).isoformat(), "accuracy": 8}
        for i in range(n)
    ]


# ------------------------------------------------------------------------------------------ me
def test_me_gives_the_grid_and_open_cases_nearest_first(worker, me, spot):
    near = post(
        worker,
        "/api/cases",
        {"category": "SJ0101", "description": "现场测试", "location": {"lon": spot[0], "lat": spot[1]}},
        key(),
    )
    assert near.status_code == 201, near.content
    number = near.json()["number"]
    r = worker.get(f"/api/field/me?lon={spot[0]}&lat={spot[1]}&crs=EPSG:4490")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["worker"]["grid_code"] == me.grid_code and body["worker"]["name"] == me.name
    assert [g["code"] for g in body["grids"]] == [me.grid_code]
    grid = body["grids"][0]
    assert grid["geometry"]["type"] in ("Polygon", "MultiPolygon") and len(grid["bbox"]) == 4
    assert body["bbox"] == grid["bbox"]
    cases = body["cases"]
    assert cases[0]["number"] == number and cases[0]["distance_m"] < 1
    distances = [c["distance_m"] for c in cases if c["distance_m"] is not None]
    assert distances == sorted(distances)
    assert "resolve_on_spot" in cases[0]["transitions"]
    # every case shown is open and in (or assigned to) the grid, or the worker's own report
    for c in cases:
        assert c["status"] not in ("closed", "evaluated", "rejected", "merged")
        assert me.grid_code in (c["grid_code"], c["assignee"]["code"]) or c["relations"].count("reporter")
    # without a position: by deadline, still every open case of the grid
    expected = (
        Case.objects.filter(grid_code=me.grid_code)
        .exclude(status__in=["closed", "evaluated", "rejected", "merged"])
        .count()
    )
    plain = worker.get("/api/field/me").json()
    assert len(plain["cases"]) >= min(expected, 100)
    assert all(c["distance_m"] is None for c in plain["cases"])


def test_me_is_for_grid_workers_only(client):
    assert client.get("/api/field/me").status_code == 401
    assert client.login(username="dispatcher", password=PASSWORD)
    r = client.get("/api/field/me")
    assert r.status_code == 403 and r.json()["error"]["en"].startswith("for grid workers only")
    assert client.get("/api/field/me?lon=abc&lat=1").status_code in (400, 403)


def test_me_refuses_bad_parameters(worker):
    assert worker.get("/api/field/me?lon=abc&lat=1").status_code == 400
    assert worker.get("/api/field/me?lon=1&lat=2&crs=EPSG:9999").status_code == 400
    assert worker.get("/api/field/me?foo=1").status_code == 400


# ------------------------------------------------------------------------------------------ check-ins
def test_a_check_in_is_stored_once_per_key(worker, me, spot):
    idem = key()
    first = checkin(worker, *spot, idem=idem, accuracy=12.5, note="早班")
    assert first.status_code == 201, first.content
    again = checkin(worker, *spot, idem=idem, accuracy=12.5, note="早班")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert CheckIn.objects.filter(worker=me).count() == 1
    c = first.json()
    assert c["grid_code"] == me.grid_code and c["inside"] is True and c["accuracy_m"] == 12.5
    assert abs(c["lon"] - spot[0]) < 1e-6 and abs(c["lat"] - spot[1]) < 1e-6
    listed = worker.get("/api/field/checkins").json()["results"]
    assert [x["id"] for x in listed] == [c["id"]] and "worker" not in listed[0]
    today = worker.get("/api/field/me").json()["today"]
    assert [x["id"] for x in today["checkins"]] == [c["id"]]


def test_a_check_in_in_gcj02_is_converted(worker, me, spot):
    glon, glat = (float(v) for v in wgs84_to_gcj02(spot[0], spot[1]))
    assert abs(glon - spot[0]) > 0.001  # really shifted (hundreds of metres)
    r = checkin(worker, glon, glat, crs="GCJ02")
    assert r.status_code == 201, r.content
    stored = CheckIn.objects.get(pk=r.json()["id"])
    assert abs(stored.geom.x - spot[0]) < 1e-6 and abs(stored.geom.y - spot[1]) < 1e-6
    assert stored.crs == "GCJ02"


def test_no_check_in_for_another_grid(worker, me, elsewhere):
    lon, lat, other = elsewhere
    r = checkin(worker, lon, lat)
    assert r.status_code == 403 and r.json()["grid_code"] == other
    assert "not in your grid" in r.json()["error"]["en"]
    inside = Building.objects.filter(grid_code=me.grid_code).first().point
    assert checkin(worker, inside.x, inside.y, grid_code=other).status_code == 403
    assert CheckIn.objects.filter(worker=me).count() == 0


def _just_outside(grid: Grid, metres: float) -> tuple[float, float]:
    """A point `metres` outside the grid's boundary, inside a neighbouring grid."""
    with connection.cursor() as cur:
        for azimuth in (90, 270, 0, 180, 45, 135, 225, 315):
            cur.execute(
                """
                with c as (select st_centroid(geom) as c, geom from layers_grid where id = %s),
                     far as (select st_project(c::geography, 5000, radians(%s))::geometry as f, c, geom
                             from c),
                     edge as (select st_intersection(st_boundary(geom), st_makeline(c, f)) as e, geom, c
                              from far)
                select st_x(p), st_y(p) from (
                  select st_project(st_closestpoint(e, c)::geography, %s, radians(%s))::geometry as p
                  from edge) s
                where exists (select 1 from layers_grid g where st_intersects(g.geom, s.p) and g.id <> %s)
                """,
                [grid.pk, azimuth, metres, azimuth, grid.pk],
            )
            row = cur.fetchone()
            if row:
                return row
    raise AssertionError("no neighbour found")


def test_a_fix_just_outside_the_grid_counts_within_its_accuracy(worker, me):
    grid = Grid.objects.current().get(code=me.grid_code, net__follows_communities=True)
    lon, lat = _just_outside(grid, 20)
    r = checkin(worker, lon, lat, accuracy=50)
    assert r.status_code == 201, r.content
    assert r.json()["grid_code"] == me.grid_code and r.json()["inside"] is False
    far_lon, far_lat = _just_outside(grid, 80)
    assert checkin(worker, far_lon, far_lat, accuracy=5).status_code == 403
    assert checkin(worker, far_lon, far_lat, accuracy=150).status_code == 201  # within its accuracy
    very_lon, very_lat = _just_outside(grid, 300)
    assert checkin(worker, very_lon, very_lat, accuracy=5000).status_code == 403  # tolerance capped at 200 m
    assert CheckIn.objects.filter(worker=me).count() == 2


def test_swapped_axes_and_bad_check_ins_are_refused(worker, me, spot):
    swapped = checkin(worker, spot[1], spot[0])  # refused as the case API refuses it, with its hint
    assert swapped.status_code in (400, 422) and swapped.json()["hint"]
    assert (
        post(worker, "/api/field/checkins", {"location": {"lon": spot[0], "lat": spot[1]}}).status_code == 400
    )
    bad = [
        ("{not json", key()),
        ({"location": {"lon": "x", "lat": 1}}, key()),
        ({"location": {"lon": spot[0], "lat": spot[1], "crs": "EPSG:1"}}, key()),
        ({"location": [spot[0], spot[1]]}, key()),
        ({}, key()),
        ({"location": {"lon": spot[0], "lat": spot[1]}, "accuracy": -1}, key()),
        ({"location": {"lon": spot[0], "lat": spot[1]}, "accuracy": "ten"}, key()),
        ({"location": {"lon": spot[0], "lat": spot[1]}, "note": "长" * 201}, key()),
        ({"location": {"lon": spot[0], "lat": spot[1]}, "device_time": "2999-01-01T00:00:00+08:00"}, key()),
        ({"location": {"lon": spot[0], "lat": spot[1]}, "device_time": "yesterday"}, key()),
        ({"location": {"lon": spot[0], "lat": spot[1]}, "colour": "red"}, key()),
        ({"location": {"lon": spot[0], "lat": spot[1]}}, "short"),
    ]
    for body, idem in bad:
        r = post(worker, "/api/field/checkins", body, idem)
        assert r.status_code == 400, (body, r.content)
        assert r.json()["error"]["zh"] and r.json()["error"]["en"]
    assert CheckIn.objects.filter(worker=me).count() == 0


def test_check_ins_need_a_grid_worker(client, spot):
    assert checkin(client, *spot).status_code == 401
    assert client.login(username="dispatcher", password=PASSWORD)
    assert checkin(client, *spot).status_code == 403


def test_others_see_check_ins_of_their_jurisdiction_masked(worker, me, spot, client):
    checkin(worker, *spot)
    worker.logout()
    assert client.login(username="dispatcher", password=PASSWORD)
    rows = client.get(f"/api/field/checkins?area={me.grid_code[:9]}").json()["results"]
    assert len(rows) == 1 and rows[0]["worker"]["name"] == me.name[0] + "**"
    assert client.get("/api/field/checkins?date=nope").status_code == 400
    assert client.get("/api/field/checkins?area=abc").status_code == 400
    client.logout()
    assert client.login(username="department", password=PASSWORD)
    assert client.get("/api/field/checkins").json()["results"] == []


# ------------------------------------------------------------------------------------------ patrols
def test_a_patrol_batch_is_appended_once(worker, me, spot):
    idem = key()
    batch = {"crs": "EPSG:4490", "points": points_along(*spot, n=5)}
    first = post(worker, "/api/field/patrols/points", batch, idem)
    assert first.status_code == 201, first.content
    again = post(worker, "/api/field/patrols/points", batch, idem)
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["received"] == 5
    patrol = Patrol.objects.get(worker=me, day=timezone.localdate())
    assert patrol.point_count == 5 and patrol.grid_code == me.grid_code
    with connection.cursor() as cur:  # 4 steps of 0.0002° of longitude, on the spheroid
        cur.execute(
            "select st_length(st_makeline(st_makepoint(%s, %s), st_makepoint(%s, %s))::geography)",
            [spot[0], spot[1], spot[0] + 0.0008, spot[1]],
        )
        expected = cur.fetchone()[0]
    assert abs(patrol.length_m - expected) < 0.5
    # a later batch with points taken *earlier* (queued offline) slots in by time
    earlier = points_along(spot[0] - 0.001, spot[1], n=2, minutes_ago=60)
    assert post(worker, "/api/field/patrols/points", {"points": earlier}, key()).status_code == 201
    patrol.refresh_from_db()
    assert patrol.point_count == 7 and patrol.length_m > expected
    track = worker.get("/api/field/patrols/today").json()
    assert track["tracks"] == 1 and len(track["features"]) == 1
    feature = track["features"][0]
    line = feature["geometry"]["coordinates"]
    assert feature["geometry"]["type"] == "LineString" and len(line) == 7
    assert line[0][0] == pytest.approx(spot[0] - 0.001) and line[-1][0] == pytest.approx(spot[0] + 0.0008)
    assert feature["properties"]["own"] is True and feature["properties"]["worker"] == me.name
    assert worker.get("/api/field/me").json()["today"]["patrol"]["point_count"] == 7


def test_imprecise_points_are_kept_but_not_walked(worker, me, spot):
    pts = points_along(*spot, n=3)
    pts[1] = {**pts[1], "lat": spot[1] + 0.01, "accuracy": 800}  # a 1-km jump from a bad fix
    assert post(worker, "/api/field/patrols/points", {"points": pts}, key()).status_code == 201
    patrol = Patrol.objects.get(worker=me, day=timezone.localdate())
    assert patrol.point_count == 3 and patrol.length_m < 40


def test_a_batch_across_midnight_makes_two_patrols(worker, me, spot):
    today = timezone.localdate()
    late = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=2), dt.time(23, 59, 30)))
    early = late + dt.timedelta(minutes=1)
    pts = [
        {"lon": spot[0], "lat": spot[1], "t": late.isoformat()},
        {"lon": spot[0] + 0.0002, "lat": spot[1], "t": int(early.timestamp() * 1000)},
    ]
    assert post(worker, "/api/field/patrols/points", {"points": pts}, key()).status_code == 201
    days = sorted(Patrol.objects.filter(worker=me).values_list("day", flat=True))
    assert days == [today - dt.timedelta(days=2), today - dt.timedelta(days=1)]


def test_bad_batches_write_nothing(worker, me, spot):
    good = points_along(*spot, n=2)
    cases = [
        ({"points": []}, 400),
        ({"points": good * 251}, 400),
        ({"points": "many"}, 400),
        ({"points": [{**good[0], "t": "tomorrow"}]}, 400),
        ({"points": [{**good[0], "t": (timezone.now() + dt.timedelta(hours=1)).isoformat()}]}, 400),
        ({"points": [{**good[0], "t": (timezone.now() - dt.timedelta(days=8)).isoformat()}]}, 400),
        ({"points": [good[0], {**good[1], "lon": None}]}, 400),
        ({"points": [good[0], {**good[1], "accuracy": -3}]}, 400),
        ({"points": [good[0], 7]}, 400),
        ({"points": good, "speed": 3}, 400),
        ({"points": good, "crs": "EPSG:1234"}, 400),
        ({"points": [good[0], {**good[1], "lon": spot[1], "lat": spot[0]}]}, (400, 422)),
    ]
    for body, status in cases:
        r = post(worker, "/api/field/patrols/points", body, key())
        assert r.status_code in (status if isinstance(status, tuple) else (status,)), (
            str(body)[:300],
            r.content,
        )
        assert r.json()["error"]["zh"] and r.json()["error"]["en"]
    swapped = post(
        worker,
        "/api/field/patrols/points",
        {"points": [good[0], {**good[1], "lon": spot[1], "lat": spot[0]}]},
        key(),
    ).json()
    assert swapped["index"] == 1 and swapped["hint"]
    assert post(worker, "/api/field/patrols/points", {"points": good}).status_code == 400  # no key
    assert PatrolPoint.objects.filter(patrol__worker=me).count() == 0
    assert not Patrol.objects.filter(worker=me, point_count__gt=0).exists()


def test_a_worker_sees_only_their_own_track(client, me, spot):
    colleague = GridWorker.objects.get(user__username=f"gw{me.grid_code}")
    assert colleague.grid_code == me.grid_code  # same grid, still not each other's track
    assert client.login(username=colleague.user.username, password=PASSWORD)
    assert (
        post(client, "/api/field/patrols/points", {"points": points_along(*spot)}, key()).status_code == 201
    )
    client.logout()
    assert client.login(username="worker", password=PASSWORD)
    assert client.get("/api/field/patrols/today").json()["features"] == []
    assert (
        post(client, "/api/field/patrols/points", {"points": points_along(*spot)}, key()).status_code == 201
    )
    mine = client.get("/api/field/patrols/today").json()
    assert [f["properties"]["own"] for f in mine["features"]] == [True]
    client.logout()
    assert client.login(username="dispatcher", password=PASSWORD)
    all_ = client.get(f"/api/field/patrols/today?area={me.grid_code}").json()
    assert all_["tracks"] == 2 and {f["properties"]["worker"][-2:] for f in all_["features"]} == {"**"}
    assert all_["length_m"] == pytest.approx(
        sum(f["properties"]["length_m"] for f in all_["features"]), abs=0.2
    )
    other_street = "9" * 9
    assert client.get(f"/api/field/patrols/today?area={other_street}").json()["tracks"] == 0
    assert client.get("/api/field/patrols/today?area=x1").status_code == 400
    client.logout()
    assert client.get("/api/field/patrols/today").status_code == 401


def test_the_openapi_document_lists_the_field_api(client):
    doc = client.get("/api/openapi.json").json()
    for path in (
        "/api/field/me",
        "/api/field/checkins",
        "/api/field/patrols/points",
        "/api/field/patrols/today",
    ):
        assert path in doc["paths"], path
    assert "CheckInCreate" in doc["components"]["schemas"] and "PatrolBatch" in doc["components"]["schemas"]
