"""Reverse lookup (grids of every net, admin chain, nearest address), the boundary rule on shared edges
and corners, coordinate systems (GCJ-02 / BD-09 against published values, round trips, EPSG), and bad
coordinates."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from geocoding import crs
from geocoding.testing import geocoder_ready  # noqa: F401

db = pytest.mark.django_db


def metres(lon1, lat1, lon2, lat2) -> float:
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


# ---------------------------------------------------------------- GCJ-02 / BD-09
def test_gcj02_reference_pair():
    """The pair used by several libraries (and in STACK-NOTES): WGS84 (116.404, 39.915)."""
    lon, lat = crs.wgs84_to_gcj02(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-12)
    assert float(lat) == pytest.approx(39.91640428150164, abs=1e-12)


def test_bd09_reference_pair():
    """coordtransform's published value: GCJ-02 (116.404, 39.915) → BD-09."""
    lon, lat = crs.gcj02_to_bd09(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41036949371029, abs=1e-12)
    assert float(lat) == pytest.approx(39.92133699351021, abs=1e-12)


def test_iterative_inverse_beats_the_one_step_inverse():
    """The one-step inverse published with the formulas (g − (f(g) − g)) is off by up to metres; the
    iterative one maps back onto the GCJ point within a millimetre everywhere."""
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(74, 134, 5000), rng.uniform(18, 53, 5000)
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    flon, flat = crs.wgs84_to_gcj02(glon, glat)
    one_step = (2 * glon - flon, 2 * glat - flat)
    ours = crs.gcj02_to_wgs84(glon, glat)
    err_one = max(metres(a, b, c, d) for a, b, c, d in zip(*one_step, lon, lat, strict=True))
    err_ours = max(metres(a, b, c, d) for a, b, c, d in zip(*ours, lon, lat, strict=True))
    assert err_one > 1.0 and err_ours < 0.001
    # and the published one-step value for GCJ (116.404, 39.915) is indeed centimetres off
    assert (
        metres(*map(float, crs.wgs84_to_gcj02(116.39775550083061, 39.91359571849836)), 116.404, 39.915) > 0.01
    )
    assert (
        metres(*map(float, crs.wgs84_to_gcj02(*crs.gcj02_to_wgs84(116.404, 39.915))), 116.404, 39.915) < 0.001
    )


def test_round_trips_are_centimetre_accurate():
    rng = np.random.default_rng(3)
    lon = rng.uniform(74, 134, 5000)
    lat = rng.uniform(18, 53, 5000)
    for fwd, inv in (
        (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
        (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
        (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
    ):
        blon, blat = inv(*fwd(lon, lat))
        worst = max(metres(a, b, c, d) for a, b, c, d in zip(blon, blat, lon, lat, strict=True))
        assert worst < 0.01, fwd.__name__


def test_offsets_have_the_published_size_and_stop_at_the_border():
    lon, lat = crs.wgs84_to_gcj02(125.95, 46.58)
    assert 100 < metres(125.95, 46.58, float(lon), float(lat)) < 700
    blon, blat = crs.wgs84_to_bd09(125.95, 46.58)
    assert 700 < metres(125.95, 46.58, float(blon), float(blat)) < 2000
    assert tuple(map(float, crs.wgs84_to_gcj02(2.35, 48.85))) == (2.35, 48.85)  # Paris: no offset


@pytest.mark.parametrize(
    "value,label",
    [
        (None, "EPSG:4490"),
        ("EPSG:4490", "EPSG:4490"),
        ("epsg:4326", "EPSG:4326"),
        ("3857", "EPSG:3857"),
        ("EPSG:4547", "EPSG:4547"),
        ("EPSG:4534", "EPSG:4534"),
        ("EPSG:4554", "EPSG:4554"),
        ("urn:ogc:def:crs:EPSG::4490", "EPSG:4490"),
        ("gcj-02", "GCJ02"),
        ("BD09", "BD09"),
        ("CGCS2000", "EPSG:4490"),
    ],
)
def test_crs_names(value, label):
    assert crs.parse_crs(value).label == label


@pytest.mark.parametrize("value", ["EPSG:2000", "EPSG:4555", "EPSG:32650", "mars", "EPSG:", "x" * 500])
def test_unknown_crs_refused(value):
    with pytest.raises(crs.CRSError):
        crs.parse_crs(value)


def test_gauss_kruger_round_trip():
    system = crs.parse_crs("EPSG:4551")
    x, y = crs.from_storage(125.95, 46.58, system)
    assert 400_000 < float(x) < 600_000 and 5_000_000 < float(y) < 5_300_000
    lon, lat = crs.to_storage(x, y, system)
    assert metres(float(lon), float(lat), 125.95, 46.58) < 0.01


# ---------------------------------------------------------------- reverse lookup


def _a_building():
    from layers.models import Building

    return Building.objects.exclude(estate="").order_by("id")[100]


@db
@pytest.mark.usefixtures("geocoder_ready")
def test_reverse_inside_a_building(client):
    b = _a_building()
    r = client.get("/api/reverse", {"lon": repr(b.point.x), "lat": repr(b.point.y)})
    assert r.status_code == 200
    body = r.json()
    assert body["grid_code"] == b.grid_code
    assert body["nearest"]["building_id"] == b.id and body["nearest"]["distance_m"] == 0
    assert body["admin"]["community"]["code"] == b.community.code
    assert {"police", "mediation"} <= set(body["grids"])
    assert "boundary" not in body


@db
@pytest.mark.usefixtures("geocoder_ready")
@pytest.mark.parametrize("system", ["GCJ02", "BD09", "EPSG:3857", "EPSG:4551", "EPSG:4326"])
def test_reverse_in_other_crs_lands_on_the_same_building(client, system):
    b = _a_building()
    ref = crs.parse_crs(system)
    x, y = crs.from_storage(b.point.x, b.point.y, ref)
    body = client.get("/api/reverse", {"lon": repr(float(x)), "lat": repr(float(y)), "crs": system}).json()
    assert body["grid_code"] == b.grid_code and body["nearest"]["building_id"] == b.id
    assert abs(body["lon_cgcs2000"] - b.point.x) < 1e-7 and abs(body["lat_cgcs2000"] - b.point.y) < 1e-7


@db
@pytest.mark.usefixtures("geocoder_ready")
def test_phone_gcj02_point_is_not_taken_as_cgcs2000(client):
    """The same numbers read as GCJ-02 and as CGCS2000 are hundreds of metres apart."""
    b = _a_building()
    gx, gy = (float(v) for v in crs.wgs84_to_gcj02(b.point.x, b.point.y))
    as_gcj = client.get("/api/reverse", {"lon": gx, "lat": gy, "crs": "GCJ02"}).json()
    as_cgcs = client.get("/api/reverse", {"lon": gx, "lat": gy}).json()
    assert as_gcj["nearest"]["building_id"] == b.id
    assert (
        metres(
            as_gcj["lon_cgcs2000"], as_gcj["lat_cgcs2000"], as_cgcs["lon_cgcs2000"], as_cgcs["lat_cgcs2000"]
        )
        > 100
    )


def _shared_vertices(nets: tuple[str, ...], grids_at_vertex: int):
    """Vertices of grid boundaries (exact stored coordinates) shared by exactly `grids_at_vertex` grids."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            with v as (
                select g.code, (st_dumppoints(g.geom)).geom p
                from layers_grid g join layers_net n on n.id = g.net_id
                where n.code = any(%s) and g.generation_high is null
            )
            select st_x(p), st_y(p), array_agg(distinct code order by code)
            from v group by p having count(distinct code) = %s
            order by st_x(p), st_y(p) limit 5
            """,
            [list(nets), grids_at_vertex],
        )
        return cur.fetchall()


@db
@pytest.mark.usefixtures("geocoder_ready")
@pytest.mark.parametrize("sharing", [2, 3])
def test_boundary_rule_on_community_grid_edges_and_corners(client, sharing):
    """On an edge (2 grids) or a corner (3 grids): the smallest code, every time, and the answer says so."""
    points = _shared_vertices(("comprehensive", "dedicated"), sharing)
    assert points, "the demo city has shared edges and corners"
    for x, y, codes in points:
        answers = {
            client.get("/api/reverse", {"lon": repr(x), "lat": repr(y)}).json()["grid_code"] for _ in range(2)
        }
        assert answers == {min(codes)}
        body = client.get("/api/reverse", {"lon": repr(x), "lat": repr(y)}).json()
        assert body["boundary"]["community_nets"] == codes
        assert body["boundary"]["rule"]["en"].startswith("A point exactly on a shared grid edge")
        assert body["admin"]["community"]["code"] == min(codes)[:12]


@db
@pytest.mark.usefixtures("geocoder_ready")
def test_boundary_rule_in_overlay_nets(client):
    points = _shared_vertices(("police",), 2)
    assert points
    x, y, codes = points[0]
    body = client.get("/api/reverse", {"lon": repr(x), "lat": repr(y)}).json()
    assert body["grids"]["police"] == min(codes)
    assert body["boundary"]["shared"]["police"] == codes


@db
@pytest.mark.usefixtures("geocoder_ready")
def test_a_hair_inside_a_grid_is_that_grid(client):
    """Next to a shared edge but inside the larger-code grid: that grid, not the rule's choice."""
    from django.db import connection

    x, y, codes = _shared_vertices(("comprehensive", "dedicated"), 2)[0]
    with connection.cursor() as cur:
        cur.execute(
            "select st_x(p), st_y(p) from (select st_closestpoint(st_buffer(geom, -0.000001), "
            "st_setsrid(st_makepoint(%s, %s), 4490)) p from layers_grid "
            "where code = %s and generation_high is null) s",
            [x, y, max(codes)],
        )
        ix, iy = cur.fetchone()
    body = client.get("/api/reverse", {"lon": repr(ix), "lat": repr(iy)}).json()
    assert body["grid_code"] == max(codes)


@db
@pytest.mark.usefixtures("geocoder_ready")
def test_swapped_axes_get_a_hint(client):
    b = _a_building()
    r = client.get("/api/reverse", {"lon": b.point.y, "lat": b.point.x})
    assert r.status_code == 400
    body = r.json()
    assert body["hint"]["lon"] == b.point.x and "swapped" in body["hint"]["en"]


@db
@pytest.mark.usefixtures("geocoder_ready")
def test_swapped_projected_axes_get_a_hint_too(client):
    b = _a_building()
    x, y = crs.from_storage(b.point.x, b.point.y, crs.parse_crs("EPSG:4551"))
    r = client.get("/api/reverse", {"lon": float(y), "lat": float(x), "crs": "EPSG:4551"})
    assert r.status_code in (400, 404)
    assert "hint" in r.json()


@db
@pytest.mark.usefixtures("geocoder_ready")
@pytest.mark.parametrize(
    "params,status",
    [
        ({"lon": "100", "lat": "30"}, 404),  # in China, not in the city
        ({"lon": "200", "lat": "30"}, 400),
        ({"lon": "120", "lat": "-95"}, 400),
        ({"lon": "nan", "lat": "30"}, 400),
        ({"lon": "inf", "lat": "30"}, 400),
        ({"lon": "1e999", "lat": "30"}, 400),
        ({"lon": "abc", "lat": "30"}, 400),
        ({"lon": "120"}, 400),
        ({"lon": "125.95", "lat": "46.58", "crs": "EPSG:9999"}, 400),
        ({"lon": "125.95", "lat": "46.58", "crs": "😀"}, 400),
        ({"lon": "0", "lat": "0", "crs": "EPSG:4547"}, 400),
        ({"lon": "1' or '1'='1", "lat": "30"}, 400),
    ],
)
def test_bad_coordinates_are_4xx_with_a_reason(client, params, status):
    r = client.get("/api/reverse", params)
    assert r.status_code == status
    body = r.json()
    assert body["code"] == status and body["error"]["zh"] and body["error"]["en"]


@db
@pytest.mark.usefixtures("geocoder_ready")
def test_forward_then_reverse_agree_for_random_buildings(client):
    from layers.models import Building

    rng = random.Random(9)
    ids = list(Building.objects.values_list("id", flat=True))
    for bid in rng.sample(ids, 20):
        b = Building.objects.get(pk=bid)
        fwd = client.get("/api/geocode", {"q": b.address, "crs": "GCJ02"}).json()["candidates"][0]
        back = client.get("/api/reverse", {"lon": fwd["lon"], "lat": fwd["lat"], "crs": "GCJ02"}).json()
        assert back["grid_code"] == fwd["grid_code"] == b.grid_code
        assert back["grids"] == fwd["grids"]
