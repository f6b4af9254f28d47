"""What the planner's editor needs from the boundary API beyond issue 6: grids with their household load,
the draft's unit outlines, the shared edge of two grids, undo, the trail, validation areas to draw, open
cases listed in the impact, generations listed / compared / exported, and a file upload as a draft.

Every test runs in the rolled-back transaction of pytest-django, publishes included."""

from __future__ import annotations

import io
import json
import zipfile

import fiona
import pytest
import shapely
from django.contrib.auth.models import User
from shapely.geometry import mapping, shape
from test_boundaries import (
    API,
    _split_busiest,
    busy_community,
    op,
    open_draft,
    planner,  # noqa: F401 - a fixture
    post,
    shapes,
    splittable,
    sql,
    two_neighbours,
)

from boundaries.geometry import from_db, to_db
from boundaries.models import Draft, DraftGrid, Operation
from boundaries.testing import bent_edge
from layers.models import Generation, Grid

pytestmark = pytest.mark.django_db
GEN = "/api/boundaries/generations"


def wkb_state(draft_id: int) -> dict[str, tuple[bytes, bool]]:
    """Every live grid's code → (exact geometry bytes, changed): equal only when nothing moved a bit."""
    return {
        g.code: (bytes(g.geom.wkb), g.changed)
        for g in DraftGrid.objects.filter(draft_id=draft_id, deleted=False)
    }


# ----------------------------------------------------------------------------------- grids, units, edge
def test_draft_grids_carry_their_households_and_units_their_outline(client, planner):  # noqa: F811
    community = busy_community()
    draft = open_draft(client, community.code)
    fc = client.get(f"{API}/{draft['id']}/grids").json()
    assert len(fc["features"]) == draft["grids"]
    for f in fc["features"][:5]:
        expected = sql(
            "select coalesce(sum(households), 0) from layers_building "
            "where st_contains(st_setsrid(st_geomfromgeojson(%s), 4490), point)",
            (json.dumps(f["geometry"]),),
        )[0][0]
        assert f["properties"]["households"] == expected
    assert sum(f["properties"]["households"] for f in fc["features"]) > 0
    units = client.get(f"{API}/{draft['id']}/units").json()
    assert [u["properties"]["code"] for u in units["features"]] == [community.code]
    assert shape(units["features"][0]["geometry"]).equals_exact(from_db(community.geom), 1e-9)


def test_the_shared_edge_of_two_grids_moved_is_a_reshape(client, planner):  # noqa: F811
    draft = open_draft(client, busy_community().code)
    a, b = two_neighbours(draft["id"])
    s = shapes(draft["id"])
    body = client.get(f"{API}/{draft['id']}/edge", {"grids": f"{a},{b}"}).json()
    edge = shape(body["edge"])
    assert edge.geom_type == "LineString"
    # it lies on a's boundary and within a centimetre (the tolerance for T-junctions) of b's
    assert edge.difference(s[a].boundary.buffer(1e-8)).length < 1e-9
    assert edge.difference(s[b].boundary.buffer(1.5e-7)).length < 1e-9
    assert edge.length > 0.5 * s[a].boundary.intersection(s[b].boundary.buffer(1e-8)).length
    moved = bent_edge(s[a], s[b], 0.1)
    response = op(client, draft["id"], {"op": "reshape", "grids": [a, b], "edge": moved})
    assert response.status_code in (200, 422), response.content
    far = next(c for c in s if c not in (a, b) and s[c].distance(s[a]) > 0)
    refused = client.get(f"{API}/{draft['id']}/edge", {"grids": f"{a},{far}"})
    assert refused.status_code == 422 and refused.json()["reason"] == "not_adjacent"
    assert client.get(f"{API}/{draft['id']}/edge", {"grids": a}).status_code == 400
    assert client.get(f"{API}/{draft['id']}/edge", {"grids": f"{a},nope"}).json()["reason"] == "unknown_grid"


# ------------------------------------------------------------------------------------------------- undo
def test_undo_walks_back_every_operation_to_the_very_bits(client, planner):  # noqa: F811
    community = busy_community()
    draft = open_draft(client, community.code)
    d = draft["id"]
    states = [wkb_state(d)]
    a, b = two_neighbours(d)
    s = shapes(d)
    code = sorted(c for c in s if c not in (a, b))[0]
    # split, a second split (renumbering the first new grid's sequence), merge, delete, create
    assert op(client, d, {"op": "split", "grid": code, "line": splittable(d, code)}).status_code == 200
    states.append(wkb_state(d))
    other = sorted(c for c in shapes(d) if c not in (a, b, code) and len(c) == 15)[0]
    second = op(client, d, {"op": "split", "grid": other, "line": splittable(d, other)})
    assert second.status_code == 200, second.content
    states.append(wkb_state(d))
    assert op(client, d, {"op": "merge", "grids": [a, b]}).status_code == 200
    states.append(wkb_state(d))
    edge = s[a].union(s[b]).representative_point()
    side = 0.0004
    school = shapely.box(edge.x - side, edge.y - side, edge.x + side, edge.y + side)
    created = op(
        client, d, {"op": "create", "polygon": mapping(school), "net": "dedicated", "kind": "school"}
    )
    if created.status_code == 200:
        states.append(wkb_state(d))
    trail = client.get(f"{API}/{d}/operations").json()["operations"]
    assert [o["seq"] for o in trail] == list(range(1, len(states)))
    assert trail[0]["op"] == "split" and trail[0]["user"] == "planner"
    # back, one by one, to exactly each earlier state
    while len(states) > 1:
        states.pop()
        response = post(client, f"{API}/{d}/undo", {})
        assert response.status_code == 200, response.content
        assert response.json()["validation"]["ok"]
        assert wkb_state(d) == states[-1]
    assert not Operation.objects.filter(draft_id=d).exists()
    assert not DraftGrid.objects.filter(draft_id=d, source__isnull=True).exists()
    nothing = post(client, f"{API}/{d}/undo", {})
    assert nothing.status_code == 409 and nothing.json()["reason"] == "nothing_to_undo"
    assert client.get(f"{API}/{d}/validation").json()["ok"]
    # an operation after undos gets the next free code again, not a skipped one
    again = op(client, d, {"op": "split", "grid": code, "line": splittable(d, code)})
    highest = max(
        int(c[-3:])
        for c in Grid.objects.filter(code__startswith=community.code).values_list("code", flat=True)
    )
    assert again.json()["result"]["created"][0] == f"{community.code}{highest + 1:03d}"


def test_undo_refusals(client, planner):  # noqa: F811
    draft = open_draft(client, busy_community().code)
    a, b = two_neighbours(draft["id"])
    assert op(client, draft["id"], {"op": "merge", "grids": [a, b]}).status_code == 200
    # an operation stored before undo existed cannot be undone, and says so
    Operation.objects.filter(draft_id=draft["id"]).update(undo={})
    response = post(client, f"{API}/{draft['id']}/undo", {})
    assert response.status_code == 409 and response.json()["reason"] == "cannot_undo"
    assert client.get(f"{API}/{draft['id']}/undo").status_code == 405
    assert client.delete(f"{API}/{draft['id']}").status_code == 200
    assert post(client, f"{API}/{draft['id']}/undo", {}).json()["reason"] == "draft_closed"


# ------------------------------------------------------------------------------ validation, impact lists
def test_validation_gives_the_area_of_a_gap_to_draw(client, planner):  # noqa: F811
    draft = open_draft(client, busy_community().code)
    g = DraftGrid.objects.filter(draft_id=draft["id"], net__code="comprehensive").order_by("code").first()
    poly = from_db(g.geom)
    shrunk = poly.buffer(-0.0002)  # about 20 m off every side: a ring of gap around the grid
    g.geom = to_db(shrunk)
    g.save()
    body = client.get(f"{API}/{draft['id']}/validation").json()
    gaps = [i for i in body["issues"] if i["check"] == "gap"]
    assert body["ok"] is False and len(gaps) == 1
    drawn = shape(gaps[0]["geometry"])
    assert drawn.symmetric_difference(poly.difference(shrunk)).area < 1e-10
    assert drawn.contains(shapely.Point(gaps[0]["at"])) or drawn.touches(shapely.Point(gaps[0]["at"]))


def test_impact_lists_the_open_cases_that_change_grid(client, planner):  # noqa: F811
    community = busy_community()
    draft = open_draft(client, community.code)
    old, new = _split_busiest(client, draft["id"], community)
    body = client.get(f"{API}/{draft['id']}/impact").json()
    items = body["open_cases"]["items"]
    assert len(items) == min(body["open_cases"]["cases"], 200) > 0
    assert {(i["from"], i["to"]) for i in items} <= {(old, new), (new, old)}
    numbers = [i["id"] for i in items]
    assert numbers == sorted(numbers)
    assert sql("select count(*) from cases_case where number = any(%s) and grid_code = %s", (numbers, old))[
        0
    ][0] == len(numbers)


# ----------------------------------------------------------------------------------------- generations
def _publish_a_merge(client) -> tuple[str, str, str, dict]:
    community = busy_community()
    draft = open_draft(client, community.code)
    a, b = two_neighbours(draft["id"])
    kept = op(client, draft["id"], {"op": "merge", "grids": [a, b], "keep": a}).json()["result"]["changed"][0]
    response = post(client, f"{API}/{draft['id']}/publish", {"note": "合并两个小网格"})
    assert response.status_code == 200, response.content
    return community.code, kept, b, response.json()


def test_generations_are_listed_compared_and_exported(client, planner, tmp_path):  # noqa: F811
    area, kept, gone, published = _publish_a_merge(client)
    old, new = published["generations"]["comprehensive"]
    body = client.get(GEN, {"net": "comprehensive", "area": area}).json()
    assert body["nets"] == ["comprehensive", "dedicated"]
    listed = body["generations"]
    assert [g["number"] for g in listed][:2] == [new, old]
    assert listed[0]["in_force"] and not listed[1]["in_force"] and listed[0]["status"] == "published"
    assert listed[0]["note"] == "合并两个小网格"
    assert listed[0]["change"]["published_by"] == "planner" and listed[0]["change"]["retired"] == 1
    # the grids of each generation, and what differs between them
    g_old = client.get(f"{GEN}/{old}", {"net": "comprehensive", "area": area}).json()
    g_new = client.get(f"{GEN}/{new}", {"net": "comprehensive", "area": area}).json()
    codes_old = {f["properties"]["code"] for f in g_old["features"]}
    codes_new = {f["properties"]["code"] for f in g_new["features"]}
    assert codes_old - codes_new == {gone} and codes_new <= codes_old
    cmp = client.get(f"{GEN}/compare", {"net": "comprehensive", "area": area, "a": old, "b": new}).json()
    assert cmp["summary"]["removed"] == [gone] and cmp["summary"]["added"] == []
    assert cmp["summary"]["reshaped"] == [kept]
    assert sorted((f["properties"]["side"], f["properties"]["code"]) for f in cmp["features"]) == sorted(
        [("a", gone), ("a", kept), ("b", kept)]
    )
    assert cmp["summary"]["same"] == len(codes_new) - 1 and cmp["bbox"]
    # exports: a GeoPackage of the old generation reads back with every grid; a shapefile comes zipped
    r = client.get(f"{GEN}/{old}/export", {"net": "comprehensive", "area": area, "format": "gpkg"})
    assert r.status_code == 200 and r["Content-Disposition"].endswith('.gpkg"')
    path = tmp_path / "old.gpkg"
    path.write_bytes(b"".join(r.streaming_content) if r.streaming else r.content)
    with fiona.open(path) as src:
        assert {f["properties"]["code"] for f in src} == codes_old
    r = client.get(f"{GEN}/{new}/export", {"net": "comprehensive", "area": area, "format": "shp"})
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert {n.rsplit(".", 1)[1] for n in names} >= {"shp", "shx", "dbf", "prj", "cpg"}
    r = client.get(f"{GEN}/{new}/export", {"net": "comprehensive", "area": area, "format": "geojson"})
    assert len(json.loads(r.content)["features"]) == len(codes_new)
    # the old generation's file, uploaded, is a draft that brings the retired grid back under a new code
    with open(path, "rb") as fh:
        up = client.post(f"{API}/import", {"file": fh, "net": "comprehensive", "area": area})
    assert up.status_code == 201, up.content
    assert up.json()["import"]["read"] == len(codes_old) and up.json()["validation"]["ok"]
    impact = client.get(f"{API}/{up.json()['draft']['id']}/impact").json()
    assert impact["codes"]["changed"] == [kept] and len(impact["codes"]["new"]) == 1
    assert gone not in impact["codes"]["new"]


def test_generation_refusals(client, planner):  # noqa: F811
    assert client.get(GEN, {"area": "990102"}).status_code == 400
    assert client.get(GEN, {"net": "nope"}).json()["reason"] == "unknown_net"
    assert client.get(GEN, {"net": "comprehensive", "area": "1"}).json()["reason"] == "unknown_area"
    assert client.get(f"{GEN}/999", {"net": "comprehensive"}).status_code == 404
    assert client.get(f"{GEN}/compare", {"net": "comprehensive", "a": "x", "b": "1"}).status_code == 404
    first = Generation.objects.filter(net__code="comprehensive").order_by("number").first().number
    bad = client.get(f"{GEN}/{first}/export", {"net": "comprehensive", "format": "dwg"})
    assert bad.status_code == 400 and bad.json()["reason"] == "bad_format"
    # without an area a district planner gets their own district
    mine = client.get(f"{GEN}/{first}", {"net": "comprehensive"}).json()
    assert all(f["properties"]["code"].startswith("990102") for f in mine["features"])
    client.logout()
    assert client.get(GEN, {"net": "comprehensive"}).status_code == 401
    client.force_login(User.objects.get(username="dispatcher"))
    assert client.get(GEN, {"net": "comprehensive"}).status_code == 403
    assert client.get(f"{GEN}/{first}/export", {"net": "comprehensive"}).status_code == 403


# ---------------------------------------------------------------------------------------------- upload
def _zip(members: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    buf.seek(0)
    return buf


def test_a_zipped_shapefile_upload_becomes_a_draft_and_bad_uploads_are_refused(client, planner, tmp_path):  # noqa: F811
    community = busy_community()
    first = Generation.objects.filter(net__code="comprehensive", status="published").get().number
    shp = client.get(
        f"{GEN}/{first}/export", {"net": "comprehensive", "area": community.code, "format": "shp"}
    )
    members = {
        n: zipfile.ZipFile(io.BytesIO(shp.content)).read(n)
        for n in zipfile.ZipFile(io.BytesIO(shp.content)).namelist()
    }
    # member paths are reduced to their names: a path outside the temporary directory is never written
    sneaky = {f"../../{n}" if n.endswith(".dbf") else f"dir/{n}": v for n, v in members.items()}
    archive = _zip(sneaky)
    archive.name = "survey.zip"
    before = Draft.objects.count()
    response = client.post(f"{API}/import", {"file": archive, "net": "comprehensive", "area": community.code})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["import"]["driver"] == "ESRI Shapefile" and body["validation"]["ok"]
    assert body["draft"]["changed"] == 0 and body["draft"]["removed"] == 0  # the same grids came back
    assert Draft.objects.count() == before + 1

    def upload(name: str, data: bytes, **fields):
        f = io.BytesIO(data)
        f.name = name
        return client.post(
            f"{API}/import", {"file": f, "net": "comprehensive", "area": community.code, **fields}
        )

    assert upload("x.dwg", b"x").json()["reason"] == "bad_file"
    assert upload("x.zip", b"not a zip").json()["reason"] == "bad_file"
    two = _zip({"a.geojson": b"{}", "b.geojson": b"{}"}).getvalue()
    assert upload("two.zip", two).json()["reason"] == "bad_file"
    broken = upload("x.geojson", b"{not json")
    assert broken.status_code == 422 and broken.json()["error"]["en"]
    bad_code = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": "12", "name": "x", "net": "comprehensive"},
                    "geometry": mapping(from_db(community.geom).buffer(-0.001)),
                }
            ],
        }
    ).encode()
    refused = upload("bad.geojson", bad_code)
    assert refused.status_code == 422 and refused.json()["reason"] == "bad_features"
    assert refused.json()["features"][0]["reasons"]
    assert client.post(f"{API}/import", {"net": "comprehensive"}).status_code == 400
    assert Draft.objects.count() == before + 1  # nothing opened by the refusals
    client.logout()
    assert upload("x.geojson", b"{}").status_code == 401
    client.force_login(User.objects.get(username="dispatcher"))
    assert upload("x.geojson", bad_code).status_code == 403
