"""Property-based tests of every place a geometry comes in: case locations, the reverse geocoder, boundary
drafts' operations and layer imports.

Whatever the numbers — self-intersecting, unclosed, empty, huge, NaN / infinite, in a wrong or unknown
CRS, with lon and lat swapped — the answer is a point / geometry in the city or a 4xx with the reason in
Chinese and English; never a 500, never a row.  A point that lands outside the city but inside it with its
axes swapped is refused with a hint saying so.
"""

from __future__ import annotations

import json
import math

import pytest
from django.contrib.auth.models import User
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boundaries.errors import Refusal
from boundaries.geometry import MAX_VERTICES, parse_geojson
from cases.errors import CaseError
from cases.models import Case

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CRS = st.sampled_from(
    [
        None,
        "EPSG:4490",
        "EPSG:4326",
        "EPSG:3857",
        "EPSG:4547",
        "GCJ02",
        "BD09",
        "EPSG:2000",
        "EPSG:999999",
        "WGS84",
        "",
        "nonsense",
        "EPSG:4490" * 20,
    ]
)
NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 180.0, -180.0, 90.0, -90.0, 180.0000001]),
)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


def _reason(body: dict) -> None:
    assert body["error"]["zh"] and body["error"]["en"], body


@pytest.fixture(scope="module")
def inside(django_db_blocker) -> tuple[float, float]:
    """A point inside the city (a building's point, CGCS2000), where lon and lat differ enough that the
    swapped pair lies outside."""
    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute("select st_x(point), st_y(point) from layers_building order by id limit 1")
        return cur.fetchone()


# ---------------------------------------------------------------------------------------- case locations
@FUZZ
@given(lon=st.one_of(NUMBER, JUNK), lat=st.one_of(NUMBER, JUNK), crs=st.one_of(CRS, JUNK))
def test_case_location_is_a_point_in_the_city_or_a_reasoned_refusal(lon, lat, crs):
    from cases.placement import locate, to_cgcs2000

    location = {"lon": lon, "lat": lat, "crs": crs}
    try:
        point = to_cgcs2000(location)
        place = locate(point)
    except CaseError as exc:
        assert exc.status in (400, 422), exc.status
        assert exc.zh and exc.en
        return
    assert math.isfinite(point.x) and math.isfinite(point.y)
    assert -180 <= point.x <= 180 and -90 <= point.y <= 90
    assert place.grid_code


def test_case_location_with_swapped_axes_gets_the_hint(client, inside):
    lon, lat = inside
    client.force_login(User.objects.get(username="dispatcher"))
    before = Case.objects.count()
    body = {"category": "SJ0101", "location": {"lon": lat, "lat": lon}}
    response = client.post("/api/cases", json.dumps(body), content_type="application/json")
    assert response.status_code == 422, response.content
    data = response.json()
    _reason(data)
    assert data["hint"] == "swapped_axes"  # the case API's contract (tests/test_cases.py)
    assert Case.objects.count() == before


@FUZZ
@given(location=st.one_of(JUNK, st.fixed_dictionaries({"lon": NUMBER, "lat": NUMBER, "crs": CRS})))
def test_case_api_never_fails_on_a_location(client, location):
    client.force_login(User.objects.get(username="dispatcher"))
    raw = json.dumps({"category": "SJ0101", "location": location}, allow_nan=True)  # NaN is JSON to Python
    response = client.post("/api/cases", raw, content_type="application/json")
    assert response.status_code in (201, 400, 422), response.content
    if response.status_code != 201:
        _reason(response.json())


# ---------------------------------------------------------------------------------------- reverse geocoder
@FUZZ
@given(
    lon=st.one_of(NUMBER.map(repr), st.text(max_size=12)),
    lat=st.one_of(NUMBER.map(repr), st.text(max_size=12)),
    crs=st.one_of(CRS, st.text(max_size=10)),
)
def test_reverse_answers_a_point_or_a_reason(client, lon, lat, crs):
    params = {"lon": lon, "lat": lat}
    if crs is not None:
        params["crs"] = crs
    response = client.get("/api/reverse", params)
    assert response.status_code in (200, 400, 404), response.content
    if response.status_code == 200:
        assert response.json()["grid_code"]
    else:
        _reason(response.json())


def test_reverse_with_swapped_axes_gets_the_hint(client, inside):
    lon, lat = inside
    response = client.get("/api/reverse", {"lon": lat, "lat": lon})
    assert response.status_code in (400, 404)
    hint = response.json()["hint"]
    assert hint["lon"] == pytest.approx(lon) and hint["lat"] == pytest.approx(lat)


# ---------------------------------------------------------------------------------------- boundary drafts
def _ring(points: list[tuple[float, float]]) -> list[list[float]]:
    return [list(p) for p in points] + [list(points[0])]


def _square(x: float, y: float, d: float = 0.001) -> list[list[float]]:
    return _ring([(x, y), (x + d, y), (x + d, y + d), (x, y + d)])


def _refused(obj: object, crs: str | None = None) -> Refusal:
    with pytest.raises(Refusal) as caught:
        parse_geojson(obj, ("Polygon", "MultiPolygon"), "polygon", crs)
    refusal = caught.value
    assert 400 <= refusal.status < 500 and refusal.zh and refusal.en
    return refusal


def test_boundary_polygon_refusals_say_why(inside):
    x, y = inside
    bowtie = _ring([(x, y), (x + 0.001, y + 0.001), (x + 0.001, y), (x, y + 0.001)])
    assert _refused({"type": "Polygon", "coordinates": [bowtie]}).reason == "invalid_geometry"
    unclosed = _square(x, y)[:-1]
    assert _refused({"type": "Polygon", "coordinates": [unclosed]}).reason == "unclosed_ring"
    assert _refused({"type": "Polygon", "coordinates": []}).reason in ("bad_geometry", "unclosed_ring")
    assert _refused({"type": "Polygon"}).reason == "bad_geometry"
    assert _refused({"type": "Point", "coordinates": [x, y]}).reason == "bad_geometry"
    nan = [[x, y], [x + 0.001, math.nan], [x + 0.001, y + 0.001], [x, y]]
    assert _refused({"type": "Polygon", "coordinates": [nan]}).status == 400
    inf = [[x, y], [math.inf, y], [x + 0.001, y + 0.001], [x, y]]
    assert _refused({"type": "Polygon", "coordinates": [inf]}).status == 400
    assert _refused({"type": "Polygon", "coordinates": [_square(x, y)]}, "EPSG:31337").reason == "bad_crs"
    # Metres sent without their CRS are not degrees
    assert _refused({"type": "Polygon", "coordinates": [_square(500000.0, 5100000.0, 10)]}).status == 400
    n = MAX_VERTICES + 1
    huge = _ring(
        [
            (x + 0.001 * math.cos(2 * math.pi * i / n), y + 0.001 * math.sin(2 * math.pi * i / n))
            for i in range(n)
        ]
    )
    refusal = _refused({"type": "Polygon", "coordinates": [huge]})
    assert refusal.status == 413 and refusal.reason == "too_many_vertices"


def test_boundary_polygon_in_another_crs_is_converted(inside):
    from geocoding.crs import from_storage, parse_crs

    x, y = inside
    ex, ey = (float(v) for v in from_storage(x, y, parse_crs("EPSG:4547")))
    square = _square(ex, ey, 50.0)
    geom = parse_geojson({"type": "Polygon", "coordinates": [square]}, ("Polygon",), "polygon", "EPSG:4547")
    first = geom.exterior.coords[0]
    assert first[0] == pytest.approx(x, abs=1e-7) and first[1] == pytest.approx(y, abs=1e-7)


COORD = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=120, max_value=130))
POSITION = st.one_of(st.lists(COORD, min_size=0, max_size=4), JUNK)
RING = st.lists(POSITION, min_size=0, max_size=7)


@FUZZ
@given(
    kind=st.sampled_from(["Polygon", "MultiPolygon", "LineString", "Point", "GeometryCollection", "", None]),
    coords=st.one_of(
        RING, st.lists(RING, max_size=3), st.lists(st.lists(RING, max_size=2), max_size=2), JUNK
    ),
    crs=st.one_of(CRS, JUNK),
)
def test_boundary_geometry_parser_never_crashes(kind, coords, crs):
    obj = {"type": kind, "coordinates": coords}
    try:
        geom = parse_geojson(
            obj, ("Polygon", "MultiPolygon"), "polygon", crs if isinstance(crs, str) else None
        )
    except Refusal as exc:
        assert 400 <= exc.status < 500 and exc.zh and exc.en
        return
    assert geom.is_valid and not geom.is_empty


def test_boundary_operation_with_bad_geometry_writes_nothing(client, inside):
    """Through the API: the refusal is JSON with the reason, and the draft is untouched."""
    from boundaries.models import DraftGrid, Operation

    client.force_login(User.objects.get(username="planner"))
    with connection.cursor() as cur:
        cur.execute("select code from layers_adminunit where level = 'community' order by code limit 1")
        area = cur.fetchone()[0]
    draft = client.post(
        "/api/boundaries/drafts",
        json.dumps({"net": "comprehensive", "area": area}),
        content_type="application/json",
    )
    assert draft.status_code == 201, draft.content
    draft_id = draft.json()["id"]
    before = (
        DraftGrid.objects.filter(draft_id=draft_id).count(),
        Operation.objects.filter(draft_id=draft_id).count(),
    )
    x, y = inside
    bowtie = _ring([(x, y), (x + 0.001, y + 0.001), (x + 0.001, y), (x, y + 0.001)])
    for polygon in (
        {"type": "Polygon", "coordinates": [bowtie]},
        {"type": "Polygon", "coordinates": [_square(x, y)[:-1]]},
        {
            "type": "Polygon",
            "coordinates": [[[y, x], [y + 0.01, x], [y + 0.01, x + 0.01], [y, x]]],
        },  # swapped
    ):
        body = {"op": "create", "net": "comprehensive", "polygon": polygon, "kind": "dedicated", "name": "x"}
        response = client.post(
            f"/api/boundaries/drafts/{draft_id}/operations", json.dumps(body), content_type="application/json"
        )
        assert 400 <= response.status_code < 500, response.content
        _reason(response.json())
    after = (
        DraftGrid.objects.filter(draft_id=draft_id).count(),
        Operation.objects.filter(draft_id=draft_id).count(),
    )
    assert after == before


# ---------------------------------------------------------------------------------------- layer imports
@FUZZ
@given(
    kind=st.sampled_from(["Polygon", "MultiPolygon", "Point", "MultiPoint", "LineString", "Bogus"]),
    coords=st.one_of(
        RING, st.lists(RING, max_size=3), st.lists(st.lists(RING, max_size=2), max_size=2), POSITION
    ),
    family=st.sampled_from(["polygon", "point", "line"]),
    source=st.sampled_from([4490, 4326, 4547, 3857]),
)
def test_layer_import_geometry_is_stored_or_reported(kind, coords, family, source):
    import pyproj

    from layers.io.importer import ACCEPTED, read_geometry
    from layers.io.reproject import Reprojector, all_finite

    problems: list[str] = []
    reproject = Reprojector(pyproj.CRS.from_epsg(source), pyproj.CRS.from_epsg(4490))
    geom = read_geometry({"type": kind, "coordinates": coords}, family, reproject, problems)
    if geom is None:
        assert problems and all(p for p in problems)
        return
    assert not problems
    assert geom.is_valid and not geom.is_empty and all_finite(geom)
    assert geom.geom_type.replace("Multi", "") in {t.replace("Multi", "") for t in ACCEPTED[family]}
