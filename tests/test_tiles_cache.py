"""The tile cache: exactly the tiles covering an edit are dropped, at every zoom, in every server process.

Over HTTP: edits are committed through a separate connection (the app server cannot see a test's
transaction) and undone afterwards; the `x-tile-cache` header tells which tiles were dropped, and an
independent oracle (PostGIS on the tile envelopes) says which should have been.  In process: the tile
arithmetic, the cache's bookkeeping and the triggers that keep the generalised and cluster tables.
"""

from __future__ import annotations

import itertools
import random
import time

import psycopg
import pytest
from django.db import connection
from tiles_helpers import http, merc_tile, tile_path, token

from cases.models import Case
from layers.models import Building, Grid, Road
from tiles.cache import Part, TileCache, cell_tile_range, tile_range
from tiles.plan import BUFFER, EXTENT, plans
from tiles.server import TileServer

ORIGIN = 20037508.342789244


@pytest.fixture(scope="module")
def dispatcher(app_server):
    return token(app_server, "dispatcher")


@pytest.fixture
def committed(test_database_url):
    with psycopg.connect(test_database_url, autocommit=True) as conn:
        yield conn


def _neighbourhood(mx: float, my: float, zooms) -> list[tuple[int, int, int]]:
    out = []
    for z in zooms:
        x, y = merc_tile(mx, my, z)
        out += [(z, x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    return out


def _warm(base: str, layer: str, tiles, tok) -> dict:
    bodies = {}
    for z, x, y in tiles:
        http(base, tile_path(layer, z, x, y), token=tok)
        reply = http(base, tile_path(layer, z, x, y), token=tok)
        assert reply.headers["x-tile-cache"] == "hit", (z, x, y)
        bodies[(z, x, y)] = reply
    return bodies


def _dropped(base: str, layer: str, tiles, tok, sentinel) -> tuple[set, dict]:
    """Wait until the server has applied the NOTIFY (the sentinel tile misses), then ask every tile once."""
    deadline = time.monotonic() + 5
    first = None
    while time.monotonic() < deadline:
        first = http(base, tile_path(layer, *sentinel), token=tok)
        if first.headers["x-tile-cache"] == "miss":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the edit never reached the tile server")
    replies = {sentinel: first}
    dropped = {sentinel}
    for t in tiles:
        if t == sentinel:
            continue
        replies[t] = http(base, tile_path(layer, *t), token=tok)
        if replies[t].headers["x-tile-cache"] == "miss":
            dropped.add(t)
    return dropped, replies


def _expected(layer: str, tiles, boxes) -> set:
    """Tiles that must change: the buffered envelope meets a box (features), or holds its cell (clusters)."""
    cluster_zooms = set(plans()[layer].cluster_zooms)
    out = set()
    with connection.cursor() as cur:
        for z, x, y in tiles:
            for xmin, ymin, xmax, ymax in boxes:
                if z in cluster_zooms:  # half-open, like the cluster cells
                    cur.execute(
                        "SELECT %s >= ST_XMin(e) AND %s < ST_XMax(e) "
                        "AND %s > ST_YMin(e) AND %s <= ST_YMax(e) "
                        "FROM ST_TileEnvelope(%s, %s, %s) e",
                        [xmin, xmin, ymin, ymin, z, x, y],
                    )
                else:
                    cur.execute(
                        "SELECT ST_Intersects(ST_TileEnvelope(%s, %s, %s, ST_TileEnvelope(0, 0, 0), %s), "
                        "ST_MakeEnvelope(%s, %s, %s, %s, 3857))",
                        [z, x, y, BUFFER / EXTENT, xmin, ymin, xmax, ymax],
                    )
                if cur.fetchone()[0]:
                    out.add((z, x, y))
    return out


def _insertable_columns(conn, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND is_generated = 'NEVER' "
        "AND column_name <> 'id' ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def _geom_4490(conn, mx: float, my: float) -> str:
    return conn.execute(
        "SELECT ST_AsEWKT(ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 3857), 4490))", [mx, my]
    ).fetchone()[0]


def _case_ids(reply) -> set[int]:
    return {f["id"] for f in reply.layers().get("cases", {}).get("features", [])}


def _cluster_total(reply) -> int:
    return sum(f["properties"]["count"] for f in reply.layers().get("cases", {}).get("features", []))


# ---------------------------------------------------------------------------------------------- HTTP


def test_a_new_case_drops_exactly_the_covering_tiles_at_every_zoom(app_server, dispatcher, committed, db):
    source = Case.objects.filter(geom__isnull=False).order_by("pk").first()
    with connection.cursor() as cur:
        cur.execute("SELECT ST_X(geom_3857), ST_Y(geom_3857) FROM cases_case WHERE id = %s", [source.pk])
        sx, sy = cur.fetchone()
    # 3 m inside the west edge of its z16 tile: within the neighbour's buffer, so it must go too.
    size16 = 2 * ORIGIN / 2**16
    x16, _ = merc_tile(sx, sy, 16)
    mx, my = -ORIGIN + x16 * size16 + 3.0, sy
    tiles = _neighbourhood(mx, my, range(8, 17))
    before = _warm(app_server, "cases", tiles, dispatcher)
    cols = _insertable_columns(committed, "cases_case")
    values = ["%(number)s" if c == "number" else "%(geom)s" if c == "geom" else c for c in cols]
    new_id = committed.execute(
        f"INSERT INTO cases_case ({', '.join(cols)}) SELECT {', '.join(values)} FROM cases_case "
        f"WHERE id = %(source)s RETURNING id",
        {"number": "TILETEST-0001", "geom": _geom_4490(committed, mx, my), "source": source.pk},
    ).fetchone()[0]
    try:
        sentinel = (16, *merc_tile(mx, my, 16))
        dropped, after = _dropped(app_server, "cases", tiles, dispatcher, sentinel)
        expected = _expected("cases", tiles, [(mx, my, mx, my)])
        assert dropped == expected
        assert {z for z, _, _ in expected} == set(range(8, 17))
        assert (16, x16 - 1, merc_tile(mx, my, 16)[1]) in dropped  # the neighbour whose buffer holds it
        for t in expected:  # the next request shows the new case, as a feature or in a cluster's count
            if t[0] >= 14:
                assert new_id in _case_ids(after[t]), t
            else:
                assert _cluster_total(after[t]) == _cluster_total(before[t]) + 1, t
    finally:
        committed.execute("DELETE FROM cases_case WHERE id = %s", [new_id])


def test_a_moved_case_drops_the_tiles_of_its_old_and_new_place(app_server, dispatcher, committed, db):
    case = Case.objects.filter(geom__isnull=False).order_by("-pk").first()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_X(geom_3857), ST_Y(geom_3857), ST_AsEWKT(geom) FROM cases_case WHERE id = %s",
            [case.pk],
        )
        ox, oy, original = cur.fetchone()
    nx, ny = ox + 2500.0, oy - 1800.0  # a few z14 tiles away
    tiles = _neighbourhood(ox, oy, range(8, 17)) + _neighbourhood(nx, ny, range(12, 17))
    tiles = list(dict.fromkeys(tiles))
    _warm(app_server, "cases", tiles, dispatcher)
    committed.execute(
        "UPDATE cases_case SET geom = %s WHERE id = %s", [_geom_4490(committed, nx, ny), case.pk]
    )
    try:
        dropped, after = _dropped(app_server, "cases", tiles, dispatcher, (16, *merc_tile(ox, oy, 16)))
        assert dropped == _expected("cases", tiles, [(ox, oy, ox, oy), (nx, ny, nx, ny)])
        assert case.pk not in _case_ids(after[(16, *merc_tile(ox, oy, 16))])
        assert case.pk in _case_ids(after[(16, *merc_tile(nx, ny, 16))])
    finally:
        committed.execute("UPDATE cases_case SET geom = %s WHERE id = %s", [original, case.pk])


def test_a_redrawn_grid_drops_the_tiles_under_its_old_and_new_outline(app_server, committed, db):
    grid = Grid.objects.current().filter(net__code="comprehensive").order_by("code").first()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_XMin(geom_3857), ST_YMin(geom_3857), ST_XMax(geom_3857), ST_YMax(geom_3857), "
            "ST_X(ST_PointOnSurface(geom_3857)), ST_Y(ST_PointOnSurface(geom_3857)), ST_AsEWKT(geom) "
            "FROM layers_grid WHERE id = %s",
            [grid.pk],
        )
        *old_box, px, py, original = cur.fetchone()
    tiles = _neighbourhood(px, py, range(8, 17))
    _warm(app_server, "grids", tiles, None)
    # Redraw: the outline moves 40 m east (in degrees, as stored).
    committed.execute("UPDATE layers_grid SET geom = ST_Translate(geom, 0.0005, 0) WHERE id = %s", [grid.pk])
    try:
        new_box = committed.execute(
            "SELECT ST_XMin(geom_3857), ST_YMin(geom_3857), ST_XMax(geom_3857), ST_YMax(geom_3857) "
            "FROM layers_grid WHERE id = %s",
            [grid.pk],
        ).fetchone()
        dropped, after = _dropped(app_server, "grids", tiles, None, (16, *merc_tile(px, py, 16)))
        assert dropped == _expected("grids", tiles, [tuple(old_box), tuple(new_box)])
        assert {z for z, _, _ in dropped} == set(range(8, 17))  # every band, the generalised ones too
    finally:
        committed.execute("UPDATE layers_grid SET geom = %s WHERE id = %s", [original, grid.pk])


def test_an_edited_building_drops_only_its_tiles_and_shows_the_edit(app_server, committed, db):
    _edit_building_and_check(app_server, committed, Building.objects.order_by("pk")[100])


def test_edits_still_reach_the_cache_after_a_boundary_generation_changes(app_server, committed, db):
    """A generation's NOTIFY makes the listener re-plan; doing that on the listening connection once
    deadlocked it (psycopg's notifies() holds the connection's lock while it yields), and every later
    edit was silently ignored: stale tiles for ever after the first boundary publish."""
    committed.execute("SELECT pg_notify('onenet_tiles', %s)", ['{"t": "layers_generation"}'])
    time.sleep(0.3)
    _edit_building_and_check(app_server, committed, Building.objects.order_by("pk")[200])


def _edit_building_and_check(app_server, committed, building) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_XMin(geom_3857), ST_YMin(geom_3857), ST_XMax(geom_3857), ST_YMax(geom_3857), "
            "ST_X(ST_PointOnSurface(geom_3857)), ST_Y(ST_PointOnSurface(geom_3857)) "
            "FROM layers_building WHERE id = %s",
            [building.pk],
        )
        *box, px, py = cur.fetchone()
    tiles = _neighbourhood(px, py, range(13, 17))
    _warm(app_server, "buildings", tiles, None)
    committed.execute("UPDATE layers_building SET floors = floors + 7 WHERE id = %s", [building.pk])
    try:
        sentinel = (16, *merc_tile(px, py, 16))
        dropped, after = _dropped(app_server, "buildings", tiles, None, sentinel)
        assert dropped == _expected("buildings", tiles, [tuple(box)])
        assert len(dropped) < len(tiles)
        feature = next(f for f in after[sentinel].layers()["buildings"]["features"] if f["id"] == building.pk)
        assert feature["properties"]["floors"] == building.floors + 7
    finally:
        committed.execute("UPDATE layers_building SET floors = floors - 7 WHERE id = %s", [building.pk])


def test_a_renamed_category_drops_every_cached_case_tile(app_server, dispatcher, committed, db):
    case = Case.objects.filter(geom__isnull=False).select_related("category").order_by("pk").first()
    with connection.cursor() as cur:
        cur.execute("SELECT ST_X(geom_3857), ST_Y(geom_3857) FROM cases_case WHERE id = %s", [case.pk])
        mx, my = cur.fetchone()
    tiles = [(16, *merc_tile(mx, my, 16)), (10, *merc_tile(mx, my, 10))]
    grid_tile = (14, *merc_tile(mx, my, 14))
    _warm(app_server, "cases", tiles, dispatcher)
    _warm(app_server, "grids", [grid_tile], None)
    committed.execute("UPDATE cases_category SET name = name || '（测试）' WHERE id = %s", [case.category_id])
    try:
        dropped, after = _dropped(app_server, "cases", tiles, dispatcher, tiles[0])
        assert dropped == set(tiles)
        names = {
            f["properties"]["category_name"]
            for f in after[tiles[0]].layers()["cases"]["features"]
            if f["id"] == case.pk
        }
        assert names == {case.category.name + "（测试）"}
        assert http(app_server, tile_path("grids", *grid_tile)).headers["x-tile-cache"] == "hit"
    finally:
        committed.execute(
            "UPDATE cases_category SET name = %s WHERE id = %s", [case.category.name, case.category_id]
        )


# ----------------------------------------------------------------------------------------- in process


def test_tile_range_agrees_with_st_tile_envelope(db):
    rng = random.Random(3)
    with connection.cursor() as cur:
        for _ in range(60):
            z = rng.randint(8, 18)
            cx, cy = 14_020_000 + rng.uniform(0, 30_000), 5_860_000 + rng.uniform(0, 30_000)
            w, h = rng.choice([0, 0, 5, 300, 4000]), rng.choice([0, 0, 7, 250, 3000])
            box = (cx, cy, cx + w, cy + h)
            x0, y0, x1, y1 = tile_range(box, z, margin=BUFFER / EXTENT)
            cur.execute(
                "SELECT min(x), min(y), max(x), max(y) "
                "FROM generate_series(%s, %s) x, generate_series(%s, %s) y "
                "WHERE ST_Intersects(ST_TileEnvelope(%s, x, y, ST_TileEnvelope(0, 0, 0), %s), "
                "ST_MakeEnvelope(%s, %s, %s, %s, 3857))",
                [x0 - 2, x1 + 2, y0 - 2, y1 + 2, z, BUFFER / EXTENT, *box],
            )
            assert cur.fetchone() == (x0, y0, x1, y1), (z, box)
            cx0, cy0, cx1, cy1 = cell_tile_range((cx, cy, cx, cy), z)
            assert (cx0, cy0) == (cx1, cy1) == merc_tile(cx, cy, z)


def test_cache_invalidation_is_exact_and_refuses_stale_puts():
    cache = TileCache(max_bytes=10**8)
    epoch = cache.epoch
    for x, y in itertools.product(range(13920, 13930), range(5785, 5795)):
        cache.put(("grids", 14, x, y, "-"), Part(b"x" * 10, "e"), epoch)
    for x, y in itertools.product(range(27840, 27860), range(11570, 11590)):
        cache.put(("grids", 15, x, y, "-"), Part(b"x" * 10, "e"), epoch)
    cache.put(("roads", 14, 13924, 5790, "-"), Part(b"r", "e"), epoch)
    size = 2 * ORIGIN / 2**14
    # A point well inside z14 tile (13924, 5790), away from every z14 and z15 edge: one tile per zoom.
    mx, my = -ORIGIN + 13924.3 * size, ORIGIN - 5790.3 * size
    assert cache.invalidate("grids", [(mx, my, mx, my)]) == 2
    assert cache.get(("grids", 14, 13924, 5790, "-")) is None
    assert cache.get(("grids", 15, 27848, 11580, "-")) is None
    assert cache.get(("grids", 14, 13925, 5790, "-")) is not None
    assert cache.get(("roads", 14, 13924, 5790, "-")) is not None  # another layer: untouched
    # A tile computed before an invalidation must not be stored after it.
    assert not cache.put(("grids", 14, 1, 1, "-"), Part(b"old", "e"), epoch)
    assert cache.put(("grids", 14, 1, 1, "-"), Part(b"new", "e"), cache.epoch)


def test_cache_stays_within_its_byte_budget():
    cache = TileCache(max_bytes=1000)
    for i in range(50):
        cache.put(("grids", 14, i, 0, "-"), Part(b"x" * 100, "e"), cache.epoch)
    assert cache.bytes <= 1000 and len(cache) == 10
    assert cache.get(("grids", 14, 49, 0, "-")) is not None and cache.get(("grids", 14, 0, 0, "-")) is None


def test_notifications_reach_the_right_layers():
    server = TileServer()
    for layer in ("cases", "grids", "buildings"):
        server.cache.put((layer, 14, 1, 1, "-"), Part(b"x", "e"), server.cache.epoch)
    server.on_change('{"t": "cases_category", "all": true}')  # cases join categories: all case tiles go
    assert server.cache.get(("cases", 14, 1, 1, "-")) is None
    assert server.cache.get(("grids", 14, 1, 1, "-")) is not None
    server.on_change('{"t": "layers_net", "all": true}')
    assert server.cache.get(("grids", 14, 1, 1, "-")) is None
    assert server.cache.get(("buildings", 14, 1, 1, "-")) is not None
    server.on_change('{"t": "*", "all": true}')
    assert len(server.cache) == 0
    server.on_change("not json")  # ignored, not fatal


def test_triggers_keep_clusters_and_generalised_bands_in_step(db):
    case = Case.objects.filter(geom__isnull=False).order_by("pk").first()

    def cluster_cells():
        with connection.cursor() as cur:
            cur.execute("SELECT zoom, sum(n) FROM tiles_cluster_cases GROUP BY zoom ORDER BY zoom")
            return dict(cur.fetchall())

    total = Case.objects.filter(geom__isnull=False).count()
    assert cluster_cells() == {z: total for z in plans()["cases"].cluster_zooms}
    Case.objects.filter(pk=case.pk).update(geom=None)
    assert cluster_cells() == {z: total - 1 for z in plans()["cases"].cluster_zooms}
    # A branch road promoted to arterial enters the z0-z9 band (only arterials there).
    road = Road.objects.filter(kind="branch").first()
    if road is not None:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM tiles_gen_roads WHERE band = 0 AND src_id = %s", [road.pk])
            assert cur.fetchone()[0] == 0
            Road.objects.filter(pk=road.pk).update(kind="arterial")
            cur.execute("SELECT count(*) FROM tiles_gen_roads WHERE band = 0 AND src_id = %s", [road.pk])
            assert cur.fetchone()[0] == 1
    # A grid deleted from the generalised bands with its row.
    grid = Grid.objects.order_by("pk").first()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM tiles_gen_grids WHERE src_id = %s", [grid.pk])
        assert cur.fetchone()[0] >= 1
        cur.execute("DELETE FROM layers_grid WHERE id = %s", [grid.pk])
        cur.execute("SELECT count(*) FROM tiles_gen_grids WHERE src_id = %s", [grid.pk])
        assert cur.fetchone()[0] == 0
