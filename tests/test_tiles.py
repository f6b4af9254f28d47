"""Vector tiles (issue 3) against the demo city, over HTTP through the real ASGI app (`app_server`).

Tiles are decoded with mapbox-vector-tile and compared with what the ORM and the registry say: which
features, which attributes, clipped where, for whom.  The tile hot path runs outside Django, so these
tests use the uvicorn subprocess; they only read the committed demo city (see test_tiles_cache.py for
edits).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from django.contrib.auth.models import User
from django.db import connection
from tiles_helpers import http, merc_tile, tile_path, token

from cases.models import Case
from gisapp.accounts.jurisdiction import jurisdiction_of, scope
from layers.models import Building, Grid, ServiceStation
from layers.registry import LAYERS
from tiles.plan import BUFFER, EXTENT

PUBLIC = [s.id for s in LAYERS.values() if s.public]
INTERNAL = [s.id for s in LAYERS.values() if not s.public]
ALL = ",".join(LAYERS)


@pytest.fixture(scope="module")
def tokens(app_server):
    return {name: token(app_server, name) for name in ("worker", "dispatcher")}


def _point_3857(table: str, pk: int, column: str = "geom_3857") -> tuple[float, float]:
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface({column}) p FROM {table} "
            f"WHERE id = %s) s",
            [pk],
        )
        return cur.fetchone()


def _ids_in_tile(table: str, z: int, x: int, y: int, where: str = "true", params=()) -> set[int]:
    """The oracle: rows whose geometry meets the tile (with its buffer), asked of PostGIS directly."""
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id FROM {table} WHERE {where} AND ST_Intersects(geom_3857, "
            f"ST_TileEnvelope(%s, %s, %s, ST_TileEnvelope(0, 0, 0), %s))",
            [*params, z, x, y, BUFFER / EXTENT],
        )
        return {r[0] for r in cur.fetchall()}


def _worker_grid(db) -> Grid:
    code = User.objects.get(username="worker").profile.jurisdiction_code
    return Grid.objects.current().get(code=code)


# ------------------------------------------------------------------------------------------- features


def test_grid_tile_holds_the_current_grids_with_their_published_attributes(app_server, db):
    grid = _worker_grid(db)
    x, y = merc_tile(*_point_3857("layers_grid", grid.pk), 15)
    reply = http(app_server, tile_path("grids", 15, x, y))
    assert reply.status == 200 and reply.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = reply.layers()["grids"]
    assert layer["extent"] == EXTENT
    features = {f["id"]: f for f in layer["features"]}
    current = set(Grid.objects.current().values_list("pk", flat=True))
    expected = _ids_in_tile("layers_grid", 15, x, y) & current
    # ST_AsMVTGeom drops features that collapse to nothing after clipping: allow none of those here.
    assert set(features) <= current and set(features) == expected
    props = features[grid.pk]["properties"]
    spec = LAYERS["grids"]
    assert set(props) <= set(spec.tile_attributes())
    assert props["code"] == grid.code and props["name"] == grid.name and props["net"] == grid.net.code
    assert props["community_code"] == grid.community.code


def test_low_zoom_bands_publish_fewer_attributes_and_generalised_geometry(app_server, db):
    grid = _worker_grid(db)
    x, y = merc_tile(*_point_3857("layers_grid", grid.pk), 9)
    layer = http(app_server, tile_path("grids", 9, x, y)).layers()["grids"]
    assert layer["features"]
    keys = set().union(*(f["properties"] for f in layer["features"]))
    assert keys <= {"code", "net"}  # the z8-z9 band of the registry
    assert len(layer["features"]) < Grid.objects.current().count()  # tiny grids dropped at z9


def _coords(geometry) -> list:
    out = []

    def walk(c):
        if isinstance(c[0], (int, float)):
            out.append(c)
        else:
            for part in c:
                walk(part)

    walk(geometry["coordinates"])
    return out


def test_clipping_at_tile_edges_keeps_the_buffer(app_server, db):
    with connection.cursor() as cur:  # a point 1 km inside the district: its z16 tile lies wholly inside
        cur.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Buffer(geom_3857, -1000)) p "
            "FROM layers_adminunit WHERE level = 'district' ORDER BY code LIMIT 1) s"
        )
        x, y = merc_tile(*cur.fetchone(), 16)
    layer = http(app_server, tile_path("admin-units,grids", 16, x, y)).layers()
    every = [c for name in layer for f in layer[name]["features"] for c in _coords(f["geometry"])]
    assert all(-BUFFER <= cx <= EXTENT + BUFFER and -BUFFER <= cy <= EXTENT + BUFFER for cx, cy in every)
    # The district covers the whole tile: it is cut exactly at the buffer square, not at the tile edge.
    district = next(f for f in layer["admin-units"]["features"] if f["properties"]["level"] == "district")
    xs, ys = zip(*_coords(district["geometry"]), strict=True)
    assert (min(xs), max(xs), min(ys), max(ys)) == (-BUFFER, EXTENT + BUFFER, -BUFFER, EXTENT + BUFFER)
    # Grids crossing the tile edge keep their part inside the buffer on both sides of it.
    assert any(cx < 0 or cx > EXTENT for f in layer["grids"]["features"] for cx, _ in _coords(f["geometry"]))


def test_composite_tile_has_one_layer_per_requested_layer(app_server, tokens, db):
    grid = _worker_grid(db)
    x, y = merc_tile(*_point_3857("layers_grid", grid.pk), 14)
    reply = http(app_server, tile_path(ALL, 14, x, y), token=tokens["dispatcher"])
    assert reply.status == 200
    names = set(reply.layers())
    assert {"grids", "buildings", "admin-units", "cases"} <= names <= set(LAYERS)


def test_empty_tile_is_204_with_an_etag(app_server):
    reply = http(app_server, tile_path("grids,buildings", 14, 0, 0))
    assert reply.status == 204 and reply.body == b""
    assert reply.headers["etag"]


def test_layer_outside_its_zoom_range_is_empty(app_server, db):
    grid = _worker_grid(db)
    x, y = merc_tile(*_point_3857("layers_grid", grid.pk), 10)
    assert http(app_server, tile_path("buildings", 10, x, y)).status == 204  # buildings start at z13


def test_tile_sizes_stay_under_500_kb_at_every_zoom(app_server, tokens, db):
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom_3857)::geometry) c "
            "FROM layers_building) s"
        )
        cx, cy = cur.fetchone()
    for z in range(8, 17):
        x, y = merc_tile(cx, cy, z)
        for dx in (-1, 0, 1):
            reply = http(app_server, tile_path(ALL, z, x + dx, y), token=tokens["dispatcher"])
            assert reply.status in (200, 204)
            assert len(reply.body) <= 500 * 1024, (z, x + dx, y, len(reply.body))


# -------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "path, status",
    [
        ("/tiles/nope/10/1/1.mvt", 404),
        ("/tiles/grids,nope/10/1/1.mvt", 404),
        ("/tiles/grids,grids/10/1/1.mvt", 400),
        ("/tiles/grids/23/1/1.mvt", 400),
        ("/tiles/grids/10/1024/1.mvt", 400),
        ("/tiles/grids/10/1/1024.mvt", 400),
        ("/tiles/grids/ten/1/1.mvt", 400),
        ("/tiles/grids/10/-1/1.mvt", 400),
        ("/tiles/grids/99999999999/1/1.mvt", 400),
        ("/tiles/nope.json", 404),
        ("/tiles/grids/10/1.mvt", 404),
        ("/tiles/glyphs/x/1-2.pbf", 400),
    ],
)
def test_bad_requests_get_json_reasons_never_500(app_server, path, status):
    reply = http(app_server, path)
    assert reply.status == status, reply.body
    doc = reply.json()
    assert doc["code"] == status and doc["error"]["zh"] and doc["error"]["en"]


def test_only_get_and_head(app_server, db):
    grid = _worker_grid(db)
    x, y = merc_tile(*_point_3857("layers_grid", grid.pk), 14)
    assert http(app_server, tile_path("grids", 14, x, y), method="POST", data=b"").status == 405
    head = http(app_server, tile_path("grids", 14, x, y), method="HEAD")
    assert head.status == 200 and head.body == b"" and int(head.headers["content-length"]) > 0


# ------------------------------------------------------------------------------------ ETag and caching


def test_etag_and_if_none_match(app_server, db):
    grid = _worker_grid(db)
    path = tile_path("grids,roads", 14, *merc_tile(*_point_3857("layers_grid", grid.pk), 14))
    first = http(app_server, path)
    etag = first.headers["etag"]
    assert first.status == 200 and etag.startswith('"')
    assert first.headers["cache-control"].startswith("public, max-age=")
    again = http(app_server, path)
    assert again.headers["etag"] == etag and again.body == first.body
    assert again.headers["x-tile-cache"] == "hit"
    not_modified = http(app_server, path, headers={"If-None-Match": etag})
    assert not_modified.status == 304 and not_modified.body == b""
    assert http(app_server, path, headers={"If-None-Match": '"0000"'}).status == 200
    assert http(app_server, path, headers={"If-None-Match": f'"x", W/{etag}'}).status == 304


# ----------------------------------------------------------------------------------------------- roles


@pytest.mark.parametrize("layer", INTERNAL)
def test_internal_layers_refuse_anonymous_requests(app_server, layer):
    reply = http(app_server, tile_path(layer, 14, 13924, 5790))
    assert reply.status == 401
    assert reply.json()["error"]["zh"] and "log in" in reply.json()["error"]["en"]
    assert http(app_server, f"/tiles/{layer}.json").status == 401
    assert http(app_server, tile_path(f"grids,{layer}", 14, 13924, 5790)).status == 401
    assert http(app_server, tile_path(layer, 14, 13924, 5790), token="not-a-token").status == 401


def _case_ids(reply) -> set[int]:
    return {f["id"] for f in reply.layers().get("cases", {}).get("features", [])}


def test_worker_sees_only_the_cases_of_their_grid(app_server, tokens, db):
    worker = User.objects.get(username="worker")
    prefix = jurisdiction_of(worker).prefix
    mine = scope(Case.objects.filter(geom__isnull=False), worker)
    case = mine.order_by("pk").first()
    x, y = merc_tile(*_point_3857("cases_case", case.pk), 14)
    reply = http(app_server, tile_path("cases", 14, x, y), token=tokens["worker"])
    assert reply.status == 200
    assert reply.headers["cache-control"] == "private, no-cache" and "Authorization" in reply.headers["vary"]
    features = reply.layers()["cases"]["features"]
    assert features and all(f["properties"]["grid_code"].startswith(prefix) for f in features)
    in_tile = _ids_in_tile("cases_case", 14, x, y)
    assert _case_ids(reply) == in_tile & set(mine.values_list("pk", flat=True))
    # The dispatcher (whole district) sees the other grids' cases in the same tile: the filter is real.
    everyone = http(app_server, tile_path("cases", 14, x, y), token=tokens["dispatcher"])
    assert _case_ids(everyone) == in_tile and _case_ids(everyone) > _case_ids(reply)


def test_worker_clusters_count_only_their_cases(app_server, tokens, db):
    worker = User.objects.get(username="worker")
    case = scope(Case.objects.filter(geom__isnull=False), worker).order_by("pk").first()
    for z in (8, 10, 12):
        x, y = merc_tile(*_point_3857("cases_case", case.pk), z)
        with connection.cursor() as cur:
            # Exact, half-open tile bounds (`&&` compares float4 boxes and is ~1 m generous).
            cur.execute(
                "SELECT count(*) FILTER (WHERE grid_code LIKE %s), count(*) FROM cases_case, "
                "ST_TileEnvelope(%s, %s, %s) e "
                "WHERE ST_X(geom_3857) >= ST_XMin(e) AND ST_X(geom_3857) < ST_XMax(e) "
                "AND ST_Y(geom_3857) > ST_YMin(e) AND ST_Y(geom_3857) <= ST_YMax(e)",
                [jurisdiction_of(worker).prefix + "%", z, x, y],
            )
            own, total = cur.fetchone()
        counted = {}
        for name in ("worker", "dispatcher"):
            layer = http(app_server, tile_path("cases", z, x, y), token=tokens[name]).layers()["cases"]
            assert all(set(f["properties"]) == {"count", "open"} for f in layer["features"])
            counted[name] = sum(f["properties"]["count"] for f in layer["features"])
        assert counted == {"worker": own, "dispatcher": total} and own < total


def test_a_session_cookie_works_like_a_token(app_server, test_database_url, db):
    """A Django session (what the map pages use) authenticates tiles; it is committed through a separate
    connection because the app server cannot see this test's transaction, and removed afterwards."""
    import datetime as dt

    import psycopg
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    worker = User.objects.get(username="worker")
    store = SessionStore()
    data = store.encode(
        {
            SESSION_KEY: str(worker.pk),
            BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
            HASH_SESSION_KEY: worker.get_session_auth_hash(),
        }
    )
    key = "tilestest" + "0" * 23
    case = scope(Case.objects.filter(geom__isnull=False), worker).order_by("pk").first()
    path = tile_path("cases", 14, *merc_tile(*_point_3857("cases_case", case.pk), 14))
    with psycopg.connect(test_database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO django_session VALUES (%s, %s, %s)",
            [key, data, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)],
        )
        try:
            reply = http(app_server, path, cookie=f"{settings.SESSION_COOKIE_NAME}={key}")
            assert reply.status == 200 and case.pk in _case_ids(reply)
            assert http(app_server, path, cookie=f"{settings.SESSION_COOKIE_NAME}=wrong").status == 401
        finally:
            conn.execute("DELETE FROM django_session WHERE session_key = %s", [key])


def test_anonymous_station_tiles_leave_out_non_public_stations(app_server, tokens, db):
    hidden = ServiceStation.objects.filter(is_public=False).first()
    if hidden is None:
        pytest.skip("the demo city has no non-public station")
    x, y = merc_tile(*_point_3857("layers_servicestation", hidden.pk), 15)
    anonymous = http(app_server, tile_path("service-stations", 15, x, y)).layers()
    ids = {f["id"] for f in anonymous.get("service-stations", {}).get("features", [])}
    assert hidden.pk not in ids
    seen = http(app_server, tile_path("service-stations", 15, x, y), token=tokens["dispatcher"]).layers()
    assert hidden.pk in {f["id"] for f in seen["service-stations"]["features"]}


def test_no_personal_data_in_any_tile_attribute(app_server, tokens, db):
    from django.apps import apps

    for spec in LAYERS.values():
        for name, path in spec.tile_attributes().items():
            model = spec.model
            for part in path.split("__")[:-1]:
                model = model._meta.get_field(part).related_model
            assert path.split("__")[-1] not in getattr(model, "personal_fields", ()), (spec.id, name)
            assert model not in {apps.get_model("layers.Resident")}, (spec.id, name)
    assert "address" not in LAYERS["cases"].tile_attributes()  # free text next to a category: not on the map
    assert "description" not in LAYERS["cases"].tile_attributes()
    case = Case.objects.filter(geom__isnull=False).first()
    x, y = merc_tile(*_point_3857("cases_case", case.pk), 16)
    layer = http(app_server, tile_path("cases", 16, x, y), token=tokens["dispatcher"]).layers()["cases"]
    for f in layer["features"]:
        assert set(f["properties"]) <= set(LAYERS["cases"].tile_attributes())


# ----------------------------------------------------------------------------------- TileJSON, style


def test_tilejson_describes_the_layers(app_server):
    doc = http(app_server, "/tiles/grids,roads.json").json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"][0].startswith("http://127.0.0.1:") and doc["tiles"][0].endswith(
        "/tiles/grids,roads/{z}/{x}/{y}.mvt"
    )
    assert [v["id"] for v in doc["vector_layers"]] == ["grids", "roads"]
    assert set(doc["vector_layers"][0]["fields"]) == set(LAYERS["grids"].tile_attributes())
    west, south, east, north = doc["bounds"]
    assert west < doc["center"][0] < east and south < doc["center"][1] < north
    assert doc["minzoom"] == 0 and doc["maxzoom"] == 16


def test_style_draws_every_public_layer_with_offline_glyphs(app_server, tokens):
    style = http(app_server, "/tiles/style.json").json()
    assert style["version"] == 8
    assert set(style["sources"]) == {"onenet"}  # no internal source for the public
    used = {layer.get("source-layer") for layer in style["layers"]} - {None}
    assert used == set(PUBLIC)
    glyphs = style["glyphs"]
    assert glyphs.startswith("http://127.0.0.1:") and "{fontstack}" in glyphs and "{range}" in glyphs
    fonts = {f for layer in style["layers"] for f in layer.get("layout", {}).get("text-font", [])}
    assert len(fonts) == 1
    # The digits of a grid code come from our own glyph server, not from the internet.
    url = glyphs.replace("{fontstack}", fonts.pop().replace(" ", "%20")).replace("{range}", "0-255")
    reply = http(app_server, url[len(app_server) :])
    assert reply.status == 200 and reply.headers["content-type"] == "application/x-protobuf"
    assert {ord(c) for c in "0123456789ABC"} <= _glyph_ids(reply.body)
    internal = http(app_server, "/tiles/style.json", token=tokens["worker"]).json()
    assert "onenet-internal" in internal["sources"]
    assert {layer.get("source-layer") for layer in internal["layers"]} - {None} == set(LAYERS)


def _glyph_ids(data: bytes) -> set[int]:
    """Glyph code points in a glyph PBF (glyphs.stacks[].glyphs[].id), read with protobuf's varint decoder
    (installed with mapbox-vector-tile)."""
    from google.protobuf.internal.decoder import _DecodeVarint

    def fields(buf: bytes):
        pos = 0
        while pos < len(buf):
            key, pos = _DecodeVarint(buf, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = _DecodeVarint(buf, pos)
            elif wire == 2:
                size, pos = _DecodeVarint(buf, pos)
                value, pos = buf[pos : pos + size], pos + size
            else:
                raise ValueError(wire)
            yield number, value

    ids = set()
    for n, stack in fields(data):
        for m, glyph in fields(stack):
            if n == 1 and m == 3:
                ids.update(v for k, v in fields(glyph) if k == 1)
    return ids


# ---------------------------------------------------------------------------------------------- GDAL


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin is not installed")
def test_gdal_mvt_driver_reads_a_tile(app_server, tmp_path, db):
    grid = _worker_grid(db)
    z = 14
    x, y = merc_tile(*_point_3857("layers_grid", grid.pk), z)
    reply = http(app_server, tile_path("grids,buildings", z, x, y))
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"  # z/x/y in the path: GDAL georeferences the tile
    path.parent.mkdir(parents=True)
    path.write_bytes(reply.body)
    out = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", str(path)], capture_output=True, text=True, check=True
    )
    assert "using driver `MVT' successful" in out.stdout
    counts = dict(
        zip(
            [line.split(": ")[1] for line in out.stdout.splitlines() if line.startswith("Layer name:")],
            [
                int(line.split(": ")[1])
                for line in out.stdout.splitlines()
                if line.startswith("Feature Count:")
            ],
            strict=True,
        )
    )
    decoded = reply.layers()
    assert counts == {name: len(layer["features"]) for name, layer in decoded.items()}
    assert counts["buildings"] > 0 and "Pseudo-Mercator" in out.stdout
    assert Building.objects.exists()
