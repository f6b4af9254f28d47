"""The planner's boundary editor (/planner/) in Debian's Chromium at 1920×1080, against `app_server`.

Edits are drawn with the mouse (page.mouse at the screen position MapLibre projects a coordinate to) and
checked where they land: the draft's operations and grids in the database.  Each test opens its own draft
on its own community; drafts are committed by the server, so the module removes the ones it made, and the
publish test puts back everything a publish writes (generations, grid rows, reassigned codes, the audit
record) from a snapshot taken just before it.  With ONENET_SCREENSHOTS=1 the run also writes
docs/screenshots/planner.png.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import time

import fiona
import httpx
import psycopg
import pytest
import shapely
from shapely.geometry import LineString, mapping, shape
from test_pages import PASSWORD, SHOTS, Watch, chromium

from boundaries.geometry import from_db
from boundaries.models import BoundaryChange, Draft, DraftGrid, Operation, Proposal
from boundaries.testing import adjacent, cut_line
from layers.models import AdminUnit, Generation, Grid

pytestmark = pytest.mark.django_db
API = "/api/boundaries/drafts"
sync_api = pytest.importorskip("playwright.sync_api")


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def browser():
    with chromium() as (_, b):
        yield b


@pytest.fixture(scope="module")
def made_drafts(django_db_blocker, test_database_url):
    """Drafts the server commits during the module are removed at its end, whatever happened."""
    with django_db_blocker.unblock():
        first = (Draft.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    started = dt.datetime.now(dt.UTC)
    yield first
    with psycopg.connect(test_database_url) as conn, conn.transaction():
        conn.execute("delete from boundaries_proposal where created_at >= %s", [started])
        ids = [r[0] for r in conn.execute("select id from boundaries_draft where id >= %s", [first])]
        if ids:
            conn.execute("delete from boundaries_operation where draft_id = any(%s)", [ids])
            conn.execute("delete from boundaries_draftgrid where draft_id = any(%s)", [ids])
            conn.execute("delete from boundaries_draft where id = any(%s)", [ids])


@pytest.fixture(scope="module")
def api(app_server):
    """The planner's bearer token over HTTP: operations the page did not draw (committed)."""
    with httpx.Client(base_url=app_server, timeout=60) as client:
        token = client.post("/api/auth/token", data={"username": "planner", "password": PASSWORD})
        client.headers["Authorization"] = f"Bearer {token.json()['token']}"
        yield client


@contextlib.contextmanager
def planner_page(browser, app_server):
    """A fresh 1920×1080 page logged in as the demo planner, loaded; with its console and requests
    watched from the first one."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        watch = Watch(page)
        page.goto(f"{app_server}/accounts/login/?next=/planner/")
        page.fill("#id_username", "planner")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        ready(page)
        yield page, watch
    finally:
        context.close()


@pytest.fixture(scope="module")
def editor(browser, app_server, made_drafts):
    with planner_page(browser, app_server) as opened:
        yield opened


# -------------------------------------------------------------------------------------------- helpers
def ready(page, timeout: float = 90_000) -> None:
    """The page's own flag, set after MapLibre's first idle (a selector, not wait_for_function: the
    Content-Security-Policy forbids the eval that one needs)."""
    page.wait_for_selector("body[data-ready]", state="attached", timeout=timeout)
    assert page.evaluate("document.body.dataset.ready") == "1"


def until(page, expression: str, arg=None, timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.15)


def db_until(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the database")
        time.sleep(0.2)


def idle(page) -> None:
    page.evaluate(
        "() => new Promise(r => { const m = window.__onenet.map; m.once('idle', r); m.triggerRepaint(); })"
    )


def zoom_to(page, geom) -> None:
    minx, miny, maxx, maxy = geom.bounds
    page.evaluate(
        "b => window.__onenet.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], {padding: 160, duration: 0})",
        [minx, miny, maxx, maxy],
    )
    idle(page)


def screen(page, lon: float, lat: float) -> tuple[float, float]:
    """Where the page shows a CGCS2000 lon/lat: MapLibre's projection plus the canvas's offset."""
    x, y = page.evaluate(
        """([lon, lat]) => { const m = window.__onenet.map; const p = m.project([lon, lat]);
             const r = m.getCanvas().getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; }""",
        [lon, lat],
    )
    return x, y


def click_at(page, lon: float, lat: float) -> None:
    x, y = screen(page, lon, lat)
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    time.sleep(0.25)  # terra-draw and MapLibre tell clicks from double clicks by time


def communities(n: int) -> list[AdminUnit]:
    """Communities with room for edits (≥ 4 comprehensive grids), the busiest ones left to
    tests/test_boundaries.py; one per test here, so no test depends on another."""
    counts: dict[int, int] = {}
    for cid in (
        Grid.objects.current().filter(net__code="comprehensive").values_list("community_id", flat=True)
    ):
        counts[cid] = counts.get(cid, 0) + 1
    ids = sorted((c for c, k in counts.items() if 4 <= k <= 8), key=lambda c: (counts[c], c))
    units = AdminUnit.objects.select_related("parent").in_bulk(ids[:n])
    return [units[i] for i in ids[:n]]


def choose_area(page, community: AdminUnit) -> None:
    """Choose the street and community in the draft panel."""
    page.select_option("#open-net", "comprehensive")
    page.select_option("#open-street", community.parent.code)
    until(page, "c => !!document.querySelector(`#open-community option[value='${c}']`)", community.code)
    page.select_option("#open-community", community.code)


def open_in_page(page, community: AdminUnit) -> Draft:
    """Choose the street and community in the draft panel and press "new draft"."""
    before = set(Draft.objects.values_list("pk", flat=True))
    choose_area(page, community)
    page.click("#open-create")
    draft = db_until(lambda: Draft.objects.exclude(pk__in=before).filter(area=community).first())
    until(
        page,
        "id => window.__onenet.state.draft?.id === id && window.__onenet.state.grids.features.length",
        draft.pk,
    )
    idle(page)
    return draft


def reload_draft(page, draft_id: int) -> None:
    page.evaluate("id => window.__onenet.openDraft(id)", draft_id)
    until(page, "id => window.__onenet.state.draft?.id === id", draft_id)


def live(draft_id: int) -> dict:
    return {
        g.code: from_db(g.geom)
        for g in DraftGrid.objects.filter(draft_id=draft_id, deleted=False, net__code="comprehensive")
    }


def drawable_cut(poly) -> list[tuple[float, float]]:
    """A two-point line across `poly` into two fair halves, its ends a little beyond the boundary."""
    for k in range(8):
        line = shape(cut_line(poly, angle=math.pi * k / 8))
        pieces = shapely.ops.split(poly, line).geoms
        inside = line.intersection(poly)
        if (
            len(pieces) == 2
            and min(p.area for p in pieces) > 0.25 * poly.area
            and inside.geom_type == "LineString"
        ):
            (x0, y0), (x1, y1) = inside.coords[0], inside.coords[-1]
            dx, dy = x1 - x0, y1 - y0
            return [(x0 - dx * 0.08, y0 - dy * 0.08), (x1 + dx * 0.08, y1 + dy * 0.08)]
    raise AssertionError("no fair cut")


# ----------------------------------------------------------------------------------------------- tests
def test_the_editor_loads_offline_for_planners_only(editor, client):
    page, watch = editor
    assert page.inner_text(".topbar h1").startswith("一网统管")
    assert page.evaluate("!!window.__onenet.map.getLayer('draft-fill') && !!window.__onenet.draw")
    assert page.locator("#generation-list li").count() >= 1
    # the style's case and party layers make way for the grids
    assert page.evaluate("window.__onenet.map.getLayoutProperty('cases', 'visibility')") == "none"
    page.click("#lang-toggle")
    assert page.inner_text(".topbar h1").startswith("One-net map")
    page.click("#lang-toggle")
    watch.assert_clean()
    # planners and administrators only
    from django.contrib.auth.models import User

    assert client.get("/planner/").status_code == 302
    client.force_login(User.objects.get(username="dispatcher"))
    assert client.get("/planner/").status_code == 403
    client.force_login(User.objects.get(username="planner"))
    assert client.get("/planner/").status_code == 200


def test_a_split_and_a_merge_drawn_with_the_mouse_reach_the_server(editor):
    page, watch = editor
    community = communities(1)[0]
    draft = open_in_page(page, community)
    shapes = live(draft.pk)
    code = max(shapes, key=lambda c: shapes[c].area)
    n = DraftGrid.objects.filter(draft=draft, deleted=False).count()
    # split: two clicks across the grid, the last one clicked again to finish the line
    zoom_to(page, shapes[code])
    page.click("[data-tool=split]")
    a, b = drawable_cut(shapes[code])
    click_at(page, *a)
    click_at(page, *b)
    click_at(page, *b)
    split = db_until(lambda: Operation.objects.filter(draft=draft, op="split").first())
    assert split.payload["grid"] == code and split.seq == 1
    assert DraftGrid.objects.filter(draft=draft, deleted=False).count() == n + 1
    new = split.result["created"][0]
    until(page, "c => window.__onenet.state.grids.features.some(f => f.properties.code === c)", new)
    # the server got the line drawn (to a pixel, ~2 m here) and cut the grid along it
    halves = live(draft.pk)
    assert halves[code].union(halves[new]).symmetric_difference(shapes[code]).area < 1e-12
    sent = shape(split.payload["line"])
    assert sent.hausdorff_distance(LineString([a, b])) < 3e-5
    seam = halves[code].boundary.intersection(halves[new].boundary)
    assert seam.length > 0 and seam.hausdorff_distance(sent.intersection(shapes[code])) < 1e-5
    # merge: pick both halves on the map, then the merge button
    page.click("[data-tool=merge]")
    for c in (code, new):
        p = halves[c].representative_point()
        click_at(page, p.x, p.y)
    until(page, "() => window.__onenet.state.selected.length === 2")
    page.click("#merge-apply")
    merge = db_until(lambda: Operation.objects.filter(draft=draft, op="merge").first())
    assert sorted(merge.payload["grids"]) == sorted([code, new]) and merge.seq == 2
    until(page, "n => window.__onenet.state.grids.features.length === n", n)
    merged = live(draft.pk)
    assert set(merged) == set(shapes)
    assert merged[code].symmetric_difference(shapes[code]).area < 1e-12
    # undo takes the merge back
    page.click("#undo")
    db_until(lambda: Operation.objects.filter(draft=draft).count() == 1)
    until(page, "n => window.__onenet.state.grids.features.length === n", n + 1)
    assert set(live(draft.pk)) == set(halves)
    assert page.locator("#issue-list li[data-check=gap], #issue-list li[data-check=overlap]").count() == 0
    watch.assert_clean()


def test_moving_a_shared_edge_by_dragging_it(editor):
    page, watch = editor
    community = communities(2)[1]
    draft = open_in_page(page, community)
    shapes = live(draft.pk)
    x, y = next((p, q) for p, q in adjacent(shapes))
    zoom_to(page, shapes[x].union(shapes[y]))
    page.click("[data-tool=reshape]")
    for c in (x, y):
        p = shapes[c].representative_point()
        click_at(page, p.x, p.y)
    until(page, "() => window.__onenet.state.selected.length === 2")
    page.click("#edge-edit")
    until(page, "() => window.__onenet.getDraw().getSnapshot().some(f => f.geometry.type === 'LineString')")
    edge = page.evaluate(
        "() => window.__onenet.getDraw().getSnapshot().find(f => f.geometry.type === 'LineString').geometry"
    )
    coords = edge["coordinates"]
    # click the middle of the first segment (a midpoint handle: inserts a vertex), then drag that vertex
    mid = ((coords[0][0] + coords[1][0]) / 2, (coords[0][1] + coords[1][1]) / 2)
    sx, sy = screen(page, *mid)
    ex, ey = screen(page, *coords[1])
    nx, ny = -(ey - sy), ex - sx  # sideways to the segment, a quarter of its length
    k = 0.25
    page.mouse.move(sx, sy)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(sx + nx * k * i / 10, sy + ny * k * i / 10)
        time.sleep(0.03)
    page.mouse.up()
    until(
        page,
        "n => window.__onenet.getDraw().getSnapshot().find(f => f.geometry.type === 'LineString')"
        ".geometry.coordinates.length > n",
        len(coords),
    )
    page.click("#edge-apply")
    reshape = db_until(lambda: Operation.objects.filter(draft=draft, op="reshape").first())
    assert sorted(reshape.payload["grids"]) == sorted([x, y])
    after = live(draft.pk)
    assert not after[x].equals(shapes[x])
    assert after[x].union(after[y]).symmetric_difference(shapes[x].union(shapes[y])).area < 1e-12
    until(page, "() => document.querySelector('#validation-badge').textContent === '0'")
    watch.assert_clean()


def test_a_grid_drawn_around_a_school_and_a_grid_deleted_into_its_neighbour(editor):
    page, watch = editor
    community = communities(6)[5]
    draft = open_in_page(page, community)
    shapes = live(draft.pk)
    x, y = next((p, q) for p, q in adjacent(shapes))
    mid = shapes[x].boundary.intersection(shapes[y].boundary).interpolate(0.5, normalized=True)
    side = math.sqrt(min(shapes[x].area, shapes[y].area)) * 0.15
    corners = [(mid.x - side, mid.y - side), (mid.x + side, mid.y - side), (mid.x + side, mid.y + side)]
    corners.append((mid.x - side, mid.y + side))
    zoom_to(page, shapes[x].union(shapes[y]))
    page.click("[data-tool=create]")
    for corner in [*corners, corners[0]]:  # the first corner again closes the polygon
        click_at(page, *corner)
    page.wait_for_selector("#create-apply")
    page.select_option("#create-net", "dedicated")
    page.select_option("#create-kind", "school")
    page.fill("#create-name", "青禾实验小学专属网格")
    page.click("#create-apply")
    create = db_until(lambda: Operation.objects.filter(draft=draft, op="create").first())
    assert create.payload["net"] == "dedicated" and create.payload["kind"] == "school"
    school = DraftGrid.objects.get(draft=draft, code=create.result["created"][0])
    assert school.name == "青禾实验小学专属网格" and school.net.code == "dedicated"
    drawn = shapely.Polygon(corners)
    assert from_db(school.geom).symmetric_difference(drawn).area < 0.1 * drawn.area  # to a pixel or two
    # delete: the grid to delete, then the neighbour that takes its area
    until(page, "c => window.__onenet.state.grids.features.some(f => f.properties.code === c)", school.code)
    page.click("[data-tool=delete]")
    now = live(draft.pk)
    x, y = next((p, q) for p, q in adjacent(now))
    zoom_to(page, now[x].union(now[y]))
    for c in (x, y):
        p = now[c].representative_point()
        click_at(page, p.x, p.y)
    until(page, "() => window.__onenet.state.selected.length === 2")
    page.click("#delete-apply")
    delete = db_until(lambda: Operation.objects.filter(draft=draft, op="delete").first())
    assert delete.payload == {"op": "delete", "grid": x, "into": y}
    assert not DraftGrid.objects.filter(draft=draft, code=x, deleted=False).exists()
    until(page, "() => document.querySelector('#validation-badge').textContent === '0'")
    watch.assert_clean()


def test_a_refused_edit_is_listed_with_its_reason_and_changes_nothing(editor):
    page, watch = editor
    community = communities(8)[7]
    draft = open_in_page(page, community)
    shapes = live(draft.pk)
    x = sorted(shapes)[0]
    far = next(c for c in sorted(shapes) if shapes[c].distance(shapes[x]) > 0)
    zoom_to(page, shapes[x].union(shapes[far]))
    page.click("[data-tool=merge]")
    for c in (x, far):
        p = shapes[c].representative_point()
        click_at(page, *p.coords[0])
    until(page, "() => window.__onenet.state.selected.length === 2")
    page.click("#merge-apply")
    page.wait_for_selector("#issue-list li[data-check=refusal]")
    first = page.locator("#issue-list li").first
    assert first.get_attribute("data-check") == "refusal"
    assert "不相邻" in first.inner_text() and x in first.inner_text()
    assert sorted(page.evaluate("window.__onenet.state.selected")) == sorted([x, far])
    assert not Operation.objects.filter(draft=draft).exists()
    assert live(draft.pk).keys() == shapes.keys()
    # Chromium reports the refused request itself as a failed resource; nothing else may be logged
    refused = [e for e in watch.errors if "status of 422" in e]
    assert len(refused) == 1
    watch.errors.remove(refused[0])
    watch.assert_clean()


def test_validation_marks_a_deliberate_gap_on_the_map_and_in_the_list(editor, tmp_path):
    page, watch = editor
    community = communities(3)[2]
    grids = list(Grid.objects.current().filter(community=community).select_related("net").order_by("code"))
    victim = next(g for g in grids if g.net.code == "comprehensive")
    path = tmp_path / "survey.gpkg"
    schema = {
        "geometry": "MultiPolygon",
        "properties": {"code": "str", "name": "str", "net": "str", "kind": "str", "target_households": "int"},
    }
    with fiona.open(path, "w", driver="GPKG", crs="EPSG:4490", schema=schema, layer="grids") as dst:
        for g in grids:
            geom = from_db(g.geom)
            if g.pk == victim.pk:  # the survey drew this grid 20 m short of its neighbours
                geom = shapely.MultiPolygon([geom.buffer(-0.0002)])
            dst.write({"geometry": mapping(geom), "properties": {
                "code": g.code, "name": g.name, "net": g.net.code, "kind": g.kind,
                "target_households": g.target_households}})  # fmt: skip
    page.select_option("#open-street", community.parent.code)
    until(page, "c => !!document.querySelector(`#open-community option[value='${c}']`)", community.code)
    page.select_option("#open-community", community.code)
    page.click("#import-box summary")
    page.set_input_files("#import-file", str(path))
    before = set(Draft.objects.values_list("pk", flat=True))
    page.click("#import-send")
    draft = db_until(lambda: Draft.objects.exclude(pk__in=before).filter(area=community).first())
    page.wait_for_selector("#issue-list li[data-check=gap]")
    validation = page.evaluate(
        "id => fetch(`/api/boundaries/drafts/${id}/validation`).then(r => r.json())", draft.pk
    )
    assert validation["counts"].get("gap") == 1 and not validation["ok"]
    assert page.locator("#issue-list li").count() == len(validation["issues"])
    assert page.inner_text("#validation-badge") == str(validation["errors"])
    # the gap's area is drawn on the map where the server found it
    page.click("#issue-list li[data-check=gap]")
    idle(page)
    gap = next(i for i in validation["issues"] if i["check"] == "gap")
    on_map = page.evaluate(
        """at => { const m = window.__onenet.map; const p = m.project(at);
             return m.queryRenderedFeatures(p, {layers: ['issue-areas']}).map(f => f.properties.check); }""",
        gap["at"],
    )
    assert "gap" in on_map
    assert page.evaluate("window.__onenet.state.draft.status") == "draft"
    watch.assert_clean()


def split_largest_by_api(page, api, draft) -> str:
    """Split the draft's largest grid through the API and show the result: for tests of what follows."""
    shapes = live(draft.pk)
    code = max(shapes, key=lambda c: shapes[c].area)
    line = mapping(LineString(drawable_cut(shapes[code])))
    reply = api.post(f"{API}/{draft.pk}/operations", json={"op": "split", "grid": code, "line": line})
    assert reply.status_code == 200, reply.text
    reload_draft(page, draft.pk)
    return code


def test_undo_is_enabled_only_while_an_open_draft_has_steps(editor, api):
    """Before any draft and after the open one is discarded, "撤销上一步" is disabled (it looked enabled)."""
    page, watch = editor
    community = communities(9)[8]
    draft = open_in_page(page, community)
    assert page.is_disabled("#undo")  # a new draft has nothing to undo
    split_largest_by_api(page, api, draft)
    until(page, "() => !document.querySelector('#undo').disabled")
    page.click(f"[data-discard='{draft.pk}']")
    page.click(f"[data-discard='{draft.pk}']")  # the second click within 3 s discards
    until(page, "() => window.__onenet.state.draft === null")
    assert page.is_disabled("#undo") and page.is_disabled("#publish-send") and page.is_disabled("#impact-run")
    watch.assert_clean()


def test_grid_labels_give_way_to_the_numbered_issue_markers(editor, api):
    """A whole district's draft at district zoom: every household warning sits at its grid's label point,
    and the labels (`001 77/360`) used to be drawn over the numbered markers into a blur.  Now a marker
    always shows and no label is placed over one; labels thin out instead (MapLibre's collision)."""
    page, watch = editor
    district = AdminUnit.objects.filter(level="district").order_by("code").first()
    reply = api.post(API, json={"net": "comprehensive", "area": district.code, "note": "labels"})
    assert reply.status_code == 201, reply.text
    draft_id = reply.json()["id"]
    try:
        reload_draft(page, draft_id)
        until(page, "() => (window.__onenet.state.validation?.issues || []).some(i => i.at)")
        centre = district.geom.centroid
        page.evaluate("c => window.__onenet.map.jumpTo({center: c, zoom: 13.5})", [centre.x, centre.y])
        idle(page)
        covered = page.evaluate(
            """() => { const m = window.__onenet.map;
                 const markers = m.queryRenderedFeatures({layers: ['issue-points']});
                 const hit = markers.filter(f => { const p = m.project(f.geometry.coordinates);
                   return m.queryRenderedFeatures([[p.x - 9, p.y - 9], [p.x + 9, p.y + 9]],
                                                  {layers: ['draft-labels']}).length > 0; });
                 return [markers.length, hit.length,
                         m.queryRenderedFeatures({layers: ['issue-labels']}).length,
                         m.queryRenderedFeatures({layers: ['draft-labels']}).length]; }"""
        )
        markers, under_labels, numbers, labels = covered
        assert markers >= 5, covered
        assert numbers == markers, covered  # every marker keeps its number
        assert labels > 0 and under_labels == 0, covered
        watch.assert_clean()
    finally:
        api.delete(f"{API}/{draft_id}")


def test_the_impact_panel_shows_the_servers_counts(editor, api):
    page, watch = editor
    community = communities(4)[3]
    draft = open_in_page(page, community)
    # the largest grid, split through the API (the panel is what is tested here)
    split_largest_by_api(page, api, draft)
    page.click("#impact-run")
    page.wait_for_selector(f"#impact-body[data-draft='{draft.pk}']")
    server = api.get(f"{API}/{draft.pk}/impact").json()
    shown = {
        k: int(v.replace(",", ""))
        for k, v in page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll('#impact-body .kpi')]
                 .map(k => [k.dataset.k, k.querySelector('.v').textContent]))"""
        ).items()
    }
    expected = {
        "buildings": server["buildings"]["buildings"],
        "households": server["buildings"]["households"],
        "residents": server["buildings"]["residents"],
        "house_units": server["buildings"]["house_units"],
        "organisations": server["party_organisations"]["organisations"],
        "members": server["party_organisations"]["members"],
        "stations": server["service_stations"]["stations"],
        "cases": server["open_cases"]["cases"],
        "workers": len(server["grid_workers"]),
    }
    assert shown == expected
    assert expected["buildings"] > 0
    assert server["codes"]["new"][0] in page.inner_text("#impact-body [data-codes=new]")
    assert page.locator("#impact-body tr[data-case]").count() == len(server["open_cases"].get("items", []))
    watch.assert_clean()


# ---------------------------------------------------------------------------------------------- publish
TRACKED = {  # table → the column publish rewrites
    "layers_building": "grid_code",
    "layers_partyorganisation": "grid_code",
    "layers_servicestation": "grid_code",
    "cases_case": "grid_code",
    "layers_gridworker": "grid_code",
    "accounts_profile": "jurisdiction_code",
}


@contextlib.contextmanager
def published_then_restored(dsn: str):
    """Undo, after the block, every publish made in it: the new generations and grid rows go, the closed
    rows reopen, reassigned codes come back from a snapshot, retired codes and audit records go."""
    with psycopg.connect(dsn) as conn:
        snapshot = {t: conn.execute(f"select id, {c} from {t}").fetchall() for t, c in TRACKED.items()}
        last = conn.execute("select coalesce(max(id), 0) from boundaries_boundarychange").fetchone()[0]
    try:
        yield
    finally:
        with psycopg.connect(dsn) as conn, conn.transaction():
            changes = conn.execute(
                "select id, generations from boundaries_boundarychange where id > %s order by id desc", [last]
            ).fetchall()
            for change_id, generations in changes:
                for net, (old, new) in generations.items():
                    net_id = conn.execute("select id from layers_net where code = %s", [net]).fetchone()[0]
                    conn.execute(
                        "delete from layers_grid where net_id = %s and generation_low = %s", [net_id, new]
                    )
                    conn.execute(
                        "update layers_grid set generation_high = null "
                        "where net_id = %s and generation_high = %s",
                        [net_id, old],
                    )
                    conn.execute(
                        "delete from layers_generation where net_id = %s and number = %s", [net_id, new]
                    )
                    conn.execute(
                        "update layers_generation set status = 'published' where net_id = %s and number = %s",
                        [net_id, old],
                    )
                conn.execute("delete from boundaries_retiredcode where change_id = %s", [change_id])
                conn.execute("delete from boundaries_boundarychange where id = %s", [change_id])
            for table, column in TRACKED.items():
                with conn.cursor() as cur:
                    cur.execute("create temporary table snap (id bigint, v text) on commit drop")
                    with cur.copy("copy snap (id, v) from stdin") as copy:
                        for row in snapshot[table]:
                            copy.write_row(row)
                    cur.execute(
                        f"update {table} t set {column} = s.v from snap s "
                        f"where t.id = s.id and t.{column} is distinct from s.v"
                    )
                    cur.execute("drop table snap")


def test_publish_history_compare_and_export(editor, api, app_server, test_database_url):
    page, watch = editor
    community = communities(5)[4]
    draft = open_in_page(page, community)
    shapes = live(draft.pk)
    x, y = next((p, q) for p, q in adjacent(shapes))
    merged = api.post(f"{API}/{draft.pk}/operations", json={"op": "merge", "grids": [x, y], "keep": x})
    assert merged.status_code == 200, merged.text
    reload_draft(page, draft.pk)
    old = Generation.in_force()[Grid.objects.filter(code=x).first().net_id]
    with published_then_restored(test_database_url):
        page.fill("#publish-note", "合并两个小网格（页面测试）")
        page.click("#publish-send")
        page.wait_for_selector("#publish-result [data-generation]")
        change = db_until(lambda: BoundaryChange.objects.filter(draft=draft).first())
        assert change.note == "合并两个小网格（页面测试）" and change.published_by.username == "planner"
        new = change.generations["comprehensive"][1]
        assert (
            new == old + 1
            and Generation.objects.get(net__code="comprehensive", number=new).status == "published"
        )
        until(page, "() => window.__onenet.state.draft.status === 'published'")
        assert page.is_disabled("#publish-send")
        # the history lists it in force; comparing the old and the new generation draws what changed
        page.wait_for_selector(f"#generation-list li.in-force[data-generation='{new}']")
        page.click("#compare-run")
        page.wait_for_selector("#compare-summary [data-only-a]")
        server = api.get(
            "/api/boundaries/generations/compare",
            params={"net": "comprehensive", "area": community.code, "a": old, "b": new},
        ).json()
        summary = page.locator("#compare-summary [data-only-a]")
        assert int(summary.get_attribute("data-only-a")) == server["summary"]["only_a"] == 2
        assert int(summary.get_attribute("data-only-b")) == server["summary"]["only_b"] == 1
        drawn = page.evaluate(
            "() => window.__onenet.map.getSource('compare').getData().then(d => d.features.length)"
        )
        assert drawn == 3
        # every generation exports: the old one as a GeoPackage through the page's own session
        href = page.get_attribute(f"#generation-list li[data-generation='{old}'] a[data-format=gpkg]", "href")
        r = page.request.get(app_server + href)
        assert r.status == 200 and r.headers["content-type"] == "application/geopackage+sqlite3"
        watch.assert_clean()
    # put back exactly: the generation in force and the grids are those before the publish
    assert Generation.in_force()[Grid.objects.filter(code=x).first().net_id] == old
    assert Grid.objects.current().filter(code=y).exists()


def propose_in_page(page, target: int, village_target: int = 100) -> Proposal:
    """Open the grid assistant, set the targets, press "propose" and wait for the draft it makes."""
    if not page.is_visible("#propose-form"):
        page.click("#propose-box summary")
    page.fill("#propose-target", str(target))
    page.fill("#propose-village", str(village_target))
    page.click("#propose-send")
    page.wait_for_selector("#propose-run[data-status=done]", timeout=90_000)
    job = db_until(lambda: Proposal.objects.filter(status="done").order_by("-created_at").first())
    until(
        page,
        "id => window.__onenet.state.draft?.id === id && window.__onenet.state.grids.features.length",
        job.draft_id,
    )
    idle(page)
    return job


def test_the_planner_proposes_grids_for_a_community_sees_them_and_publishes(editor, test_database_url):
    page, watch = editor
    community = communities(6)[5]
    choose_area(page, community)
    job = propose_in_page(page, 220)
    assert job.area_code == community.code and (job.target, job.village_target) == (220, 100)
    assert job.done == job.total == 1 and page.evaluate("document.querySelector('#propose-bar').value") == 1
    # the draft on the map is the server's: every proposed grid with its households against its target
    drawn = page.evaluate(
        """() => window.__onenet.state.grids.features.map(({ properties: p }) =>
             [p.code, p.net, p.households, p.target_households])"""
    )
    rows = DraftGrid.objects.filter(draft_id=job.draft_id, deleted=False).select_related("net")
    assert sorted((c, n) for c, n, _, _ in drawn) == sorted((g.code, g.net.code) for g in rows)
    proposed = [(h, t) for _, n, h, t in drawn if n == "comprehensive"]
    assert len(proposed) == job.summary["grids"] > 1 and all(t == 220 for _, t in proposed)
    assert sum(1 for h, t in proposed if abs(h - t) <= 0.2 * t) >= 0.75 * len(proposed)
    assert page.text_content("#draft-chip").count(str(job.draft_id))
    until(
        page,
        "() => window.__onenet.state.validation?.ok === true",
    )
    assert page.text_content("#validation-badge") == "0"
    with published_then_restored(test_database_url):
        page.fill("#publish-note", "网格划分助手（页面测试）")
        page.click("#publish-send")
        page.wait_for_selector("#publish-result [data-generation]")
        change = db_until(lambda: BoundaryChange.objects.filter(draft_id=job.draft_id).first())
        assert change.published_by.username == "planner"
        in_force = set(Grid.objects.current().filter(community=community).values_list("code", flat=True))
        assert in_force == {g.code for g in rows}
        until(page, "() => window.__onenet.state.draft.status === 'published'")
    watch.assert_clean()


def test_a_proposal_of_the_whole_district_can_be_cancelled_from_the_page(editor):
    page, watch = editor
    page.select_option("#open-street", "")
    page.select_option("#open-community", "")
    drafts = Draft.objects.count()
    if not page.is_visible("#propose-form"):
        page.click("#propose-box summary")
    page.fill("#propose-target", "300")
    page.click("#propose-send")
    page.wait_for_selector("#propose-run:not([hidden])")
    page.click("#propose-cancel")
    page.wait_for_selector("#propose-run[data-status=cancelled]", timeout=30_000)
    job = Proposal.objects.order_by("-created_at").first()
    assert job.area_code == "990102" and job.status == "cancelled" and job.draft_id is None
    time.sleep(1.0)  # the worker notices between communities and stops without writing
    assert Draft.objects.count() == drafts
    assert not page.is_disabled("#propose-send")
    watch.assert_clean()


@pytest.mark.skipif(not os.environ.get("ONENET_SCREENSHOTS"), reason="ONENET_SCREENSHOTS=1 writes it")
def test_screenshot_of_a_proposal(browser, app_server, made_drafts):
    """docs/screenshots/planner-propose.png: a street's grids as proposed, households against target."""
    with planner_page(browser, app_server) as (page, _):
        page.select_option("#open-net", "comprehensive")
        page.select_option("#open-street", "990102004")
        propose_in_page(page, 300)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "planner-propose.png"))


@pytest.mark.skipif(not os.environ.get("ONENET_SCREENSHOTS"), reason="ONENET_SCREENSHOTS=1 writes it")
def test_screenshot_for_the_readme(browser, app_server, api):
    """docs/screenshots/planner.png: a fresh page, a draft with a split, a grid picked, the impact."""
    with planner_page(browser, app_server) as (page, _):
        shoot_the_editor(page, api)


def shoot_the_editor(page, api) -> None:
    community = communities(7)[6]
    draft = open_in_page(page, community)
    code = split_largest_by_api(page, api, draft)
    page.click("[data-tool=select]")
    p = live(draft.pk)[code].representative_point()
    click_at(page, p.x, p.y)
    page.click("#impact-run")
    page.wait_for_selector(f"#impact-body[data-draft='{draft.pk}']")
    page.click("#impact-body details >> nth=0")
    idle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "planner.png"))
