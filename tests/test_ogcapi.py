"""OGC API – Features at /ogcapi/ against the demo city: what GIS clients and other tools rely on.

The property names checked here are a contract (issue 2): admin units carry code/level/name, grids
code/net/name/community_code, buildings address/grid_code, and feature ids are stable primary keys.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.gis.geos import Polygon
from django.db.models import Count
from shapely.geometry import box as shapely_box
from shapely.geometry import shape

from cases.models import Case
from gisapp.accounts.jurisdiction import scope
from layers.models import AdminUnit, Building, Grid, Net
from layers.registry import LAYERS

BASE = "/ogcapi"
PASSWORD = "onenet-demo"
PUBLIC = sorted(spec.id for spec in LAYERS.values() if spec.public)
PRIVATE = sorted(spec.id for spec in LAYERS.values() if not spec.public)
# Layers the demo city must fill; roads, water and green may be sparse, so they only get shape checks.
POPULATED_PUBLIC = ["admin-units", "grids", "buildings", "service-stations"]
COMMUNITY_NETS = {"comprehensive", "dedicated"}
GEOMETRY_TYPES = {
    "Point": {"Point"},
    "MultiPolygon": {"MultiPolygon"},
    "MultiLineString": {"MultiLineString"},
}


def get(client, path: str, params: dict | None = None, token: str | None = None, **extra):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(BASE + path, params or {}, headers=headers, **extra)


def get_json(client, path: str, params: dict | None = None, token: str | None = None) -> dict:
    response = get(client, path, params, token)
    assert response.status_code == 200, response.content[:500]
    return json.loads(response.content)


def token_for(client, username: str) -> str:
    response = client.post("/api/auth/token", {"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()["token"]


def links(doc: dict, rel: str) -> list[dict]:
    return [link for link in doc["links"] if link["rel"] == rel]


def local(href: str) -> tuple[str, dict]:
    """A link's path below /ogcapi and its query, to follow it with the test client."""
    parts = urlsplit(href)
    assert parts.path.startswith(BASE)
    return parts.path[len(BASE) :], {
        k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()
    }


def all_features(client, collection: str, params: dict | None = None, token: str | None = None) -> list[dict]:
    doc = get_json(
        client,
        f"/collections/{collection}/items",
        {**(params or {}), "limit": settings.OGCAPI_MAX_LIMIT},
        token,
    )
    assert doc["numberReturned"] == doc["numberMatched"], "the page should hold the whole answer"
    return doc["features"]


# --- landing page, conformance, API description ---------------------------------------------------


def test_landing_page_links_resolve(client, db):
    doc = get_json(client, "/")
    assert doc["title"]
    for rel, media in [
        ("self", "application/json"),
        ("conformance", "application/json"),
        ("data", "application/json"),
        ("service-desc", "application/vnd.oai.openapi+json"),
    ]:
        (link,) = links(doc, rel)
        assert link["type"].startswith(media)
        path, query = local(link["href"])
        assert get(client, path, query).status_code == 200, rel


def test_conformance_declares_core_geojson_and_openapi(client, db):
    conforms = get_json(client, "/conformance")["conformsTo"]
    base = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
    assert {base + "core", base + "geojson", base + "oas30"} <= set(conforms)


def test_openapi_document_describes_items_parameters(client, db):
    response = get(client, "/api")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    doc = json.loads(response.content)
    assert doc["openapi"].startswith("3.0")
    params = {p["name"]: p for p in doc["paths"]["/collections/grids/items"]["get"]["parameters"]}
    assert {"bbox", "limit", "offset", "net", "community_code"} <= set(params)
    assert params["limit"]["schema"]["maximum"] == settings.OGCAPI_MAX_LIMIT
    # Anonymous callers are not told about the collections they cannot read.
    assert "/collections/cases/items" not in doc["paths"]


# --- collections ----------------------------------------------------------------------------------


def test_collections_for_anonymous_are_the_public_layers(client, db):
    doc = get_json(client, "/collections")
    ids = [c["id"] for c in doc["collections"]]
    assert sorted(ids) == PUBLIC
    assert not set(ids) & set(PRIVATE)
    for c in doc["collections"]:
        assert c["title"] == LAYERS[c["id"]].title
        (items,) = links(c, "items")
        assert items["type"] == "application/geo+json"
        assert items["href"].endswith(f"/ogcapi/collections/{c['id']}/items")
    for cid in POPULATED_PUBLIC:
        (c,) = [c for c in doc["collections"] if c["id"] == cid]
        minx, miny, maxx, maxy = c["extent"]["spatial"]["bbox"][0]
        assert -180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90


def test_collections_for_a_logged_in_user_include_cases(client, db):
    token = token_for(client, "dispatcher")
    ids = {c["id"] for c in get_json(client, "/collections", token=token)["collections"]}
    assert ids == set(LAYERS)


@pytest.mark.parametrize("collection_id", PUBLIC)
def test_collection_description(client, db, collection_id):
    doc = get_json(client, f"/collections/{collection_id}")
    assert doc["id"] == collection_id
    assert doc["itemType"] == "feature"
    assert links(doc, "self") and links(doc, "items")


# --- items of every public collection -------------------------------------------------------------


@pytest.mark.parametrize("collection_id", PUBLIC)
def test_items_of_public_collections(client, db, collection_id):
    spec = LAYERS[collection_id]
    response = get(client, f"/collections/{collection_id}/items", {"limit": 50})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    doc = json.loads(response.content)
    assert doc["type"] == "FeatureCollection"
    expected = spec.visible_to(AnonymousUser()).count()
    assert doc["numberMatched"] == expected
    assert doc["numberReturned"] == len(doc["features"]) == min(50, expected)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["timeStamp"])
    if collection_id in POPULATED_PUBLIC:
        assert expected > 0, f"the demo city has no {collection_id}"
    ids = [f["id"] for f in doc["features"]]
    assert ids == sorted(ids) and all(isinstance(i, int) for i in ids)
    for feature in doc["features"]:
        assert feature["type"] == "Feature"
        # Exactly the published attributes: never a whole row.
        assert set(feature["properties"]) == set(spec.properties)
        assert feature["geometry"]["type"] in GEOMETRY_TYPES[spec.geometry_type]
        minx, miny, maxx, maxy = shape(feature["geometry"]).bounds
        assert 73 < minx <= maxx < 136 and 3 < miny <= maxy < 54, "lon/lat inside China"


def test_required_property_names_and_values(client, db):
    units = all_features(client, "admin-units")
    assert {"city", "district", "street", "community"} == {f["properties"]["level"] for f in units}
    lengths = {"district": 6, "street": 9, "community": 12}
    for f in units:
        p = f["properties"]
        assert p["name"] and p["code"].isdigit()
        if p["level"] in lengths:
            assert len(p["code"]) == lengths[p["level"]]
    communities = {f["properties"]["code"] for f in units if f["properties"]["level"] == "community"}

    grids = all_features(client, "grids")
    assert grids
    for f in grids:
        p = f["properties"]
        assert {"code", "net", "name", "community_code"} <= set(p)
        if p["net"] == "comprehensive":
            assert re.fullmatch(r"\d{15}", p["code"]) and p["code"].startswith(p["community_code"])
            assert p["community_code"] in communities

    doc = get_json(client, "/collections/buildings/items", {"limit": 500})
    # A building's grid_code is the grid of the community partition (comprehensive or dedicated net).
    community_grids = {f["properties"]["code"] for f in grids if f["properties"]["net"] in COMMUNITY_NETS}
    for f in doc["features"]:
        p = f["properties"]
        assert p["address"] and isinstance(p["address"], str)
        assert p["grid_code"] in community_grids


def test_service_stations_for_anonymous_are_public_only(client, db):
    from layers.models import ServiceStation

    features = all_features(client, "service-stations")
    assert features and all(f["properties"]["is_public"] for f in features)
    assert len(features) == ServiceStation.objects.filter(is_public=True).count()


def test_an_items_page_costs_a_few_queries(client, db, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # generation in force, count, page (+ nothing per feature)
        doc = get_json(client, "/collections/grids/items", {"limit": 1000})
    assert doc["numberReturned"] > 100


# --- bbox -----------------------------------------------------------------------------------------


def _busiest_grid() -> Grid:
    code = (
        Building.objects.values("grid_code")
        .annotate(n=Count("pk"))
        .order_by("-n", "grid_code")
        .values_list("grid_code", flat=True)
        .first()
    )
    return Grid.objects.current().get(code=code)


def _small_bbox() -> tuple[float, float, float, float]:
    """The middle of the grid with the most buildings: it holds some buildings, grids and units, not all."""
    minx, miny, maxx, maxy = _busiest_grid().geom.extent
    dx, dy = (maxx - minx) / 4, (maxy - miny) / 4
    return minx + dx, miny + dy, maxx - dx, maxy - dy


def _bbox_param(b: tuple[float, ...]) -> str:
    return ",".join(f"{v:.7f}" for v in b)


@pytest.mark.parametrize("collection_id", ["buildings", "grids", "admin-units"])
def test_bbox_really_filters(client, db, collection_id):
    bbox = _small_bbox()
    total = get_json(client, f"/collections/{collection_id}/items", {"limit": 1})["numberMatched"]
    doc = get_json(
        client,
        f"/collections/{collection_id}/items",
        {"bbox": _bbox_param(bbox), "limit": settings.OGCAPI_MAX_LIMIT},
    )
    assert 0 < doc["numberMatched"] < total
    assert doc["numberReturned"] == doc["numberMatched"]
    area = shapely_box(*(float(v) for v in _bbox_param(bbox).split(",")))
    for feature in doc["features"]:
        assert shape(feature["geometry"]).intersects(area), feature["id"]
    # The same answer as the database gives for the same box.
    spec = LAYERS[collection_id]
    box = Polygon.from_bbox(bbox)
    box.srid = 4490
    assert doc["numberMatched"] == spec.visible_to(None).filter(geom__intersects=box).count()


def test_bbox_on_points_and_far_away(client, db):
    minx, miny, maxx, maxy = AdminUnit.objects.filter(level="street").order_by("code").first().geom.extent
    everywhere = get_json(client, "/collections/service-stations/items", {"limit": 1})["numberMatched"]
    doc = get_json(
        client,
        "/collections/service-stations/items",
        {"bbox": _bbox_param((minx, miny, maxx, maxy)), "limit": settings.OGCAPI_MAX_LIMIT},
    )
    assert 0 < doc["numberMatched"] < everywhere
    for feature in doc["features"]:
        x, y = feature["geometry"]["coordinates"]
        assert minx - 1e-6 <= x <= maxx + 1e-6 and miny - 1e-6 <= y <= maxy + 1e-6
    far = get_json(client, "/collections/buildings/items", {"bbox": "-10,-10,-9,-9"})
    assert far["numberMatched"] == 0 and far["features"] == []
    whole = get_json(client, "/collections/buildings/items", {"bbox": "-180,-90,180,90", "limit": 1})
    assert whole["numberMatched"] == Building.objects.count()


# --- paging ---------------------------------------------------------------------------------------


def test_paging_follows_next_links_over_every_feature(client, db):
    first = get_json(client, "/collections/grids/items", {"limit": 50})
    total = first["numberMatched"]
    assert total > 100
    assert not links(first, "prev")
    seen, doc, pages = [], first, 0
    while True:
        pages += 1
        seen += [f["id"] for f in doc["features"]]
        nxt = links(doc, "next")
        if not nxt:
            break
        assert nxt[0]["type"] == "application/geo+json"
        path, query = local(nxt[0]["href"])
        doc = get_json(client, path, query)
        assert links(doc, "prev"), "every page after the first links back"
    assert len(seen) == len(set(seen)) == total
    assert seen == sorted(seen)
    assert pages == -(-total // 50)


def test_limit_and_offset(client, db):
    everything = [f["id"] for f in all_features(client, "grids")]
    page = get_json(client, "/collections/grids/items", {"limit": 7, "offset": 20})
    assert [f["id"] for f in page["features"]] == everything[20:27]
    (prev,) = links(page, "prev")
    assert parse_qs(urlsplit(prev["href"]).query)["offset"] == ["13"]
    default = get_json(client, "/collections/grids/items")
    assert default["numberReturned"] == min(settings.OGCAPI_DEFAULT_LIMIT, len(everything))
    beyond = get_json(client, "/collections/grids/items", {"offset": len(everything) + 5})
    assert beyond["numberReturned"] == 0 and beyond["numberMatched"] == len(everything)
    assert not links(beyond, "next")
    last = get_json(client, "/collections/grids/items", {"offset": len(everything) - 3, "limit": 10})
    assert last["numberReturned"] == 3 and not links(last, "next")


def test_next_link_keeps_filters(client, db):
    doc = get_json(client, "/collections/grids/items", {"net": "comprehensive", "limit": 10, "f": "json"})
    (nxt,) = links(doc, "next")
    query = parse_qs(urlsplit(nxt["href"]).query)
    assert query["net"] == ["comprehensive"] and query["f"] == ["json"]
    assert query["limit"] == ["10"] and query["offset"] == ["10"]


# --- property filters -----------------------------------------------------------------------------


def test_grids_filtered_by_net(client, db):
    total = get_json(client, "/collections/grids/items", {"limit": 1})["numberMatched"]
    nets = list(Net.objects.values_list("code", flat=True))
    assert {"comprehensive", "police", "mediation"} <= set(nets)
    counted = 0
    for code in nets:
        features = all_features(client, "grids", {"net": code})
        assert all(f["properties"]["net"] == code for f in features)
        assert len(features) == Grid.objects.current().filter(net__code=code).count()
        counted += len(features)
    assert counted == total
    assert get_json(client, "/collections/grids/items", {"net": "no-such-net"})["numberMatched"] == 0


def test_admin_units_filtered_by_level_and_combined_filters(client, db):
    for level in ["city", "district", "street", "community"]:
        features = all_features(client, "admin-units", {"level": level})
        assert features and all(f["properties"]["level"] == level for f in features)
        assert len(features) == AdminUnit.objects.filter(level=level).count()
    community = AdminUnit.objects.filter(level="community").order_by("code").first()
    features = all_features(client, "grids", {"net": "comprehensive", "community_code": community.code})
    assert features
    assert all(f["properties"]["community_code"] == community.code for f in features)
    streets = all_features(client, "admin-units", {"parent_code": community.parent.code})
    assert community.code in {f["properties"]["code"] for f in streets}


# --- single features ------------------------------------------------------------------------------


@pytest.mark.parametrize("collection_id", ["admin-units", "grids", "buildings", "service-stations"])
def test_feature_ids_are_stable(client, db, collection_id):
    page = get_json(client, f"/collections/{collection_id}/items", {"limit": 5, "offset": 3})
    again = get_json(client, f"/collections/{collection_id}/items", {"limit": 5, "offset": 3})
    assert [f["id"] for f in page["features"]] == [f["id"] for f in again["features"]]
    for feature in page["features"]:
        response = get(client, f"/collections/{collection_id}/items/{feature['id']}")
        assert response["Content-Type"] == "application/geo+json"
        single = json.loads(response.content)
        assert single["id"] == feature["id"]
        assert single["geometry"] == feature["geometry"]
        assert single["properties"] == feature["properties"]
        (self_link,) = links(single, "self")
        assert self_link["href"].endswith(f"/items/{feature['id']}")


# --- bad input: always a 4xx with a reason, never a 500 -------------------------------------------


BAD_REQUESTS = [
    ("/collections/grids/items", {"bbox": "125,46,126"}, 400),
    ("/collections/grids/items", {"bbox": "a,b,c,d"}, 400),
    ("/collections/grids/items", {"bbox": "126,46,125,47"}, 400),
    ("/collections/grids/items", {"bbox": "125,47,126,46"}, 400),
    ("/collections/grids/items", {"bbox": "125,46,126,nan"}, 400),
    ("/collections/grids/items", {"bbox": "125,46,126,inf"}, 400),
    ("/collections/grids/items", {"bbox": "-181,0,0,10"}, 400),
    ("/collections/grids/items", {"bbox": "0,-91,1,1"}, 400),
    ("/collections/grids/items", {"bbox": "1,2,3,4,5,6"}, 400),
    ("/collections/grids/items", {"bbox": ""}, 400),
    ("/collections/grids/items", {"bbox": "1e999,0,1,1"}, 400),
    ("/collections/grids/items", {"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}, 400),
    ("/collections/grids/items", {"limit": "0"}, 400),
    ("/collections/grids/items", {"limit": "-1"}, 400),
    ("/collections/grids/items", {"limit": str(settings.OGCAPI_MAX_LIMIT + 1)}, 400),
    ("/collections/grids/items", {"limit": "9" * 40}, 400),
    ("/collections/grids/items", {"limit": "abc"}, 400),
    ("/collections/grids/items", {"limit": "1.5"}, 400),
    ("/collections/grids/items", {"limit": "１０"}, 400),
    ("/collections/grids/items", {"limit": ""}, 400),
    ("/collections/grids/items", {"offset": "-1"}, 400),
    ("/collections/grids/items", {"offset": "9" * 30}, 400),
    ("/collections/grids/items", {"offset": "x"}, 400),
    ("/collections/grids/items", {"foo": "bar"}, 400),
    ("/collections/grids/items", {"target_households": "200"}, 400),  # published but not filterable
    ("/collections/grids/items", {"net": "comprehensive\x00"}, 400),
    ("/collections/grids/items", {"net": "x" * 1000}, 400),
    ("/collections/grids/items", {"f": "html"}, 400),
    ("/collections/grids/items", {"datetime": "yesterday"}, 400),
    ("/collections/grids/items", {"datetime": "2025-13-45"}, 400),
    ("/collections/grids/items", {"datetime": "../.."}, 400),
    ("/collections/grids", {"limit": "10"}, 400),
    ("/collections", {"bbox": "1,2,3,4"}, 400),
    ("/", {"x": "1"}, 400),
    ("/collections/no-such-layer", {}, 404),
    ("/collections/no-such-layer/items", {}, 404),
    ("/collections/grids/items/abc", {}, 404),
    ("/collections/grids/items/99999999", {}, 404),
    ("/collections/grids/items/-1", {}, 404),
    ("/collections/grids/items/1.0", {}, 404),
    ("/collections/grids/items/" + "9" * 30, {}, 404),
    ("/collections/grids/items/1/extra", {}, 404),
    ("/no/such/path", {}, 404),
]


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    doc = json.loads(response.content)
    assert doc["code"] and doc["description"]
    assert doc["error"]["zh"] and doc["error"]["en"]
    assert re.search(r"[\u4e00-\u9fff]", doc["error"]["zh"]), "the Chinese reason is in Chinese"
    return doc


@pytest.mark.parametrize(("path", "params", "status"), BAD_REQUESTS)
def test_bad_input_is_a_4xx_with_a_reason(client, db, path, params, status):
    assert_error(get(client, path, params), status)


def test_unknown_parameter_is_named_in_the_reason(client, db):
    doc = assert_error(get(client, "/collections/grids/items", {"colour": "red"}), 400)
    assert "colour" in doc["error"]["en"] and "colour" in doc["error"]["zh"]
    assert "net" in doc["error"]["en"], "the reason lists the parameters that work"


def test_repeated_parameter_is_refused(client, db):
    assert_error(client.get(BASE + "/collections/grids/items?limit=1&limit=2"), 400)


def test_flood_of_parameters_is_refused_as_json(client, db):
    query = "&".join(f"p{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    assert_error(client.get(BASE + "/collections/grids/items?" + query), 400)


def test_methods_and_formats(client, db):
    assert_error(client.post(BASE + "/collections/grids/items"), 405)
    assert_error(get(client, "/collections", HTTP_ACCEPT="text/html"), 406)
    assert get(client, "/collections", HTTP_ACCEPT="text/html,*/*;q=0.8").status_code == 200
    assert get(client, "/collections", {"f": "json"}, HTTP_ACCEPT="text/html").status_code == 200
    assert (
        get(client, "/collections/grids/items", {"limit": 1}, HTTP_ACCEPT="application/geo+json").status_code
        == 200
    )


# --- non-public collections -----------------------------------------------------------------------


@pytest.mark.parametrize("collection_id", PRIVATE)
def test_non_public_collections_need_login(client, db, collection_id):
    for path in [
        f"/collections/{collection_id}",
        f"/collections/{collection_id}/items",
        f"/collections/{collection_id}/items/1",
    ]:
        response = get(client, path)
        assert_error(response, 401)
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert_error(get(client, f"/collections/{collection_id}/items", token="not-a-token"), 401)


def _user(username: str) -> User:
    return User.objects.select_related("profile").get(username=username)


def test_worker_sees_only_their_grid(client, db):
    worker = _user("worker")
    grid_code = worker.profile.jurisdiction_code
    assert re.fullmatch(r"\d{15}", grid_code)
    token = token_for(client, "worker")
    features = all_features(client, "cases", token=token)
    assert features, "the worker's grid has cases in the demo city"
    assert {f["properties"]["grid_code"] for f in features} == {grid_code}
    assert len(features) == scope(Case.objects.all(), worker).count()
    assert len(features) < Case.objects.count()
    # A case elsewhere does not exist for the worker, not even by id.
    other = Case.objects.exclude(grid_code=grid_code).order_by("pk").first()
    assert_error(get(client, f"/collections/cases/items/{other.pk}", token=token), 404)
    own = features[0]
    single = get_json(client, f"/collections/cases/items/{own['id']}", token=token)
    assert single["properties"] == own["properties"]
    for f in all_features(client, "party-organisations", token=token):
        assert f["properties"]["grid_code"] == grid_code


def test_dispatcher_sees_the_district(client, db):
    dispatcher = _user("dispatcher")
    prefix = dispatcher.profile.jurisdiction_code
    token = token_for(client, "dispatcher")
    features = all_features(client, "cases", token=token)
    assert all(f["properties"]["grid_code"].startswith(prefix) for f in features)
    assert len(features) == Case.objects.filter(grid_code__startswith=prefix).count()
    assert len(features) > len(all_features(client, "cases", token=token_for(client, "worker")))
    sample = features[0]["properties"]
    assert set(sample) == set(LAYERS["cases"].properties)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", sample["reported_at"])


def test_session_login_reads_cases(client, db):
    client.force_login(_user("dispatcher"))
    assert get(client, "/collections/cases/items", {"limit": 1}).status_code == 200


def test_cases_by_datetime_and_property(client, db):
    token = token_for(client, "dispatcher")
    first = Case.objects.order_by("reported_at").first().reported_at
    last = Case.objects.order_by("reported_at").last().reported_at
    middle = first + (last - first) / 2
    stamp = middle.astimezone(tz=None).isoformat()
    doc = get_json(client, "/collections/cases/items", {"datetime": f"../{stamp}", "limit": 1}, token)
    prefix = _user("dispatcher").profile.jurisdiction_code
    expected = Case.objects.filter(grid_code__startswith=prefix, reported_at__lte=middle).count()
    assert 0 < doc["numberMatched"] == expected
    later = get_json(client, "/collections/cases/items", {"datetime": f"{stamp}/..", "limit": 1}, token)
    assert later["numberMatched"] < Case.objects.filter(grid_code__startswith=prefix).count()
    status = Case.objects.order_by("pk").first().status
    by_status = all_features(client, "cases", {"status": status}, token)
    assert by_status and all(f["properties"]["status"] == status for f in by_status)
    assert_error(get(client, "/collections/cases/items", {"datetime": "2025-02-30T00:00:00Z"}, token), 400)
    assert_error(get(client, "/collections/cases/items", {"datetime": "2026-01-02/2025-01-01"}, token), 400)


# --- GDAL's OAPIF driver against the real server --------------------------------------------------


def _ogrinfo(*args: str) -> str:
    ogrinfo = shutil.which("ogrinfo")
    assert ogrinfo, "ogrinfo (Debian's gdal-bin) is provisioned by ./gis"
    result = subprocess.run(
        [ogrinfo, "-ro", "--config", "GDAL_HTTP_TIMEOUT", "60", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr + result.stdout[-2000:]
    assert "ERROR" not in result.stderr, result.stderr
    return result.stdout


def _http_json(url: str, token: str | None = None) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _http_token(base: str, username: str) -> str:
    body = urllib.parse.urlencode({"username": username, "password": PASSWORD}).encode()
    with urllib.request.urlopen(base + "/api/auth/token", data=body, timeout=60) as response:
        return json.load(response)["token"]


def _features(output: str, layer: str) -> list[dict[str, str]]:
    """ogrinfo's feature dump as one dict of attribute text per feature."""
    features: list[dict[str, str]] = []
    for line in output.splitlines():
        if line.startswith(f"OGRFeature({layer}):"):
            features.append({"fid": line.split(":", 1)[1].strip()})
        else:
            m = re.match(r"\s+(\w+) \((\w+)\) = (.*)$", line)
            if m and features:
                features[-1][m.group(1)] = m.group(3)
    return features


def test_gdal_lists_and_reads_the_collections(app_server):
    url = f"OAPIF:{app_server}/ogcapi"
    listing = _ogrinfo("-so", "-q", url)
    names = set(re.findall(r"^\d+: ([\w-]+)", listing, re.M))
    assert names == set(PUBLIC)

    grids_total = _http_json(f"{app_server}/ogcapi/collections/grids/items?limit=1")["numberMatched"]
    summary = _ogrinfo("-so", "-oo", "PAGE_SIZE=1000", url, "grids")
    assert int(re.search(r"Feature Count: (\d+)", summary).group(1)) == grids_total
    for name in ["code", "net", "name", "community_code"]:
        assert re.search(rf"^{name}: String", summary, re.M), name

    # A small page size makes GDAL follow many `next` links.
    dump = _ogrinfo("-oo", "PAGE_SIZE=50", "-geom=NO", url, "grids")
    features = _features(dump, "grids")
    assert len(features) == grids_total > 100
    assert len({f["fid"] for f in features}) == grids_total
    assert all(f["net"] and f["code"] for f in features)

    # GDAL sends the attribute filter and bbox to the server (they are declared in /ogcapi/api).
    communities = _http_json(f"{app_server}/ogcapi/collections/admin-units/items?level=community&limit=1")
    dump = _ogrinfo("-oo", "PAGE_SIZE=1000", "-geom=NO", url, "admin-units", "-where", "level = 'community'")
    features = _features(dump, "admin-units")
    assert len(features) == communities["numberMatched"] > 0
    assert all(f["level"] == "community" and re.fullmatch(r"\d{12}", f["code"]) for f in features)


def test_gdal_reads_cases_with_a_bearer_token(app_server):
    url = f"OAPIF:{app_server}/ogcapi"
    token = _http_token(app_server, "worker")
    expected = _http_json(
        f"{app_server}/ogcapi/collections/cases/items?limit={settings.OGCAPI_MAX_LIMIT}", token
    )
    grid_codes = {f["properties"]["grid_code"] for f in expected["features"]}
    assert len(grid_codes) == 1
    header = ["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}"]
    listing = _ogrinfo("-so", "-q", *header, url)
    assert "cases" in re.findall(r"^\d+: ([\w-]+)", listing, re.M)
    dump = _ogrinfo(*header, "-oo", "PAGE_SIZE=1000", "-geom=NO", url, "cases")
    features = _features(dump, "cases")
    assert len(features) == expected["numberMatched"] > 0
    assert {f["grid_code"] for f in features} == grid_codes
    # Without the token GDAL does not even see the layer.
    anonymous = _ogrinfo("-so", "-q", url)
    assert "cases" not in re.findall(r"^\d+: ([\w-]+)", anonymous, re.M)
