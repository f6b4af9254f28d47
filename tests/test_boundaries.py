"""Boundary drafts through the HTTP API: each operation, its refusals, validation, impact, publish,
history, permissions."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
import shapely
from django.contrib.auth.models import User
from django.db import connection
from shapely.geometry import mapping, shape

from boundaries.geometry import from_db
from boundaries.models import BoundaryChange, Draft, DraftGrid, RetiredCode
from boundaries.testing import adjacent, bent_edge, cut_line, live_shapes, partition_problems
from cases.models import Case
from layers.models import AdminUnit, Building, Generation, Grid, GridWorker

pytestmark = pytest.mark.django_db
API = "/api/boundaries/drafts"


def sql(query: str, params: tuple = ()) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def post(client, url: str, body: object):
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def planner(client):
    user = User.objects.get(username="planner")
    client.force_login(user)
    return user


def busy_community() -> AdminUnit:
    """The community with the most comprehensive grids (ties: lowest code): room for every operation."""
    row = sql(
        """select a.id from layers_adminunit a join layers_grid g on g.community_id = a.id
           join layers_net n on n.id = g.net_id and n.code = 'comprehensive'
           where g.generation_high is null group by a.id, a.code order by count(*) desc, a.code limit 1"""
    )
    return AdminUnit.objects.get(pk=row[0][0])


def open_draft(client, area: str, net: str = "comprehensive") -> dict:
    response = post(client, API, {"net": net, "area": area, "note": "test"})
    assert response.status_code == 201, response.content
    return response.json()


def op(client, draft_id: int, body: dict):
    return post(client, f"{API}/{draft_id}/operations", body)


def shapes(draft_id: int) -> dict:
    return live_shapes(Draft.objects.get(pk=draft_id))


def two_neighbours(draft_id: int) -> tuple[str, str]:
    s = shapes(draft_id)
    comp = {
        g.code for g in DraftGrid.objects.filter(draft_id=draft_id, net__code="comprehensive", deleted=False)
    }
    for a, b in adjacent(s):
        if a in comp and b in comp:
            return a, b
    raise AssertionError("no adjacent comprehensive grids")


def splittable(draft_id: int, code: str) -> dict:
    """A cut of `code` into two pieces that are not slivers: try a few angles."""
    poly = shapes(draft_id)[code]
    for k in range(8):
        line = cut_line(poly, angle=math.pi * k / 8)
        pieces = shapely.ops.split(poly, shape(line))
        if len(pieces.geoms) == 2 and min(p.area for p in pieces.geoms) > poly.area * 0.2:
            return line
    raise AssertionError(f"cannot find a clean cut of {code}")


# ----------------------------------------------------------------------------------------------- drafts
def test_a_draft_copies_the_grids_in_force_of_the_partition_group(client, planner):
    community = busy_community()
    body = open_draft(client, community.code)
    current = Grid.objects.current().filter(community=community, net__partition_group="community")
    assert body["grids"] == current.count() > 3
    assert body["nets"] == ["comprehensive", "dedicated"]
    assert body["status"] == "draft" and body["stale"] is False
    assert set(DraftGrid.objects.filter(draft_id=body["id"]).values_list("code", flat=True)) == set(
        current.values_list("code", flat=True)
    )
    validation = client.get(f"{API}/{body['id']}/validation").json()
    assert validation["ok"] is True and validation["errors"] == 0, validation["issues"][:3]
    assert Draft.objects.get(pk=body["id"]).status == "validated"


def test_split_keeps_the_code_on_the_half_with_more_households(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    code = sql(
        """select g.code from layers_grid g join layers_net n on n.id = g.net_id and n.code = 'comprehensive'
                  where g.community_id = %s and g.generation_high is null order by g.code limit 1""",
        (community.id,),
    )[0][0]
    line = splittable(draft["id"], code)
    before = shapes(draft["id"])[code]
    response = op(client, draft["id"], {"op": "split", "grid": code, "line": line})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["result"]["changed"] == [code] and len(body["result"]["created"]) == 1
    assert body["validation"]["ok"], body["validation"]["issues"][:3]
    new_code = body["result"]["created"][0]
    after = shapes(draft["id"])
    # the two halves tile the old grid exactly
    assert after[code].union(after[new_code]).symmetric_difference(before).area < 1e-12
    hh = {}
    for c in (code, new_code):
        hh[c] = sql(
            "select coalesce(sum(households), 0) from layers_building where st_contains("
            "st_geomfromtext(%s, 4490), point)",
            (after[c].wkt,),
        )[0][0]
    assert hh[code] >= hh[new_code], hh
    # the new code is the next free sequence of the community
    highest = max(
        int(c[-3:])
        for c in Grid.objects.filter(code__startswith=community.code).values_list("code", flat=True)
    )
    assert new_code == f"{community.code}{highest + 1:03d}"


def test_split_refusals(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    code = next(iter(shapes(draft["id"])))
    poly = shapes(draft["id"])[code]
    c = poly.representative_point()
    # a line that stays inside the grid cuts nothing
    stub = {"type": "LineString", "coordinates": [[c.x, c.y], [c.x + 1e-5, c.y + 1e-5]]}
    response = op(client, draft["id"], {"op": "split", "grid": code, "line": stub})
    assert response.status_code == 422 and response.json()["reason"] == "split_no_cut"
    assert response.json()["error"]["zh"] and response.json()["error"]["en"]
    # a line far away
    minx, miny, maxx, maxy = poly.bounds
    far = {"type": "LineString", "coordinates": [[maxx + 0.01, miny], [maxx + 0.01, maxy]]}
    assert (
        op(client, draft["id"], {"op": "split", "grid": code, "line": far}).json()["reason"] == "split_no_cut"
    )
    # malformed input is a 400, an unknown grid a 422
    assert (
        op(client, draft["id"], {"op": "split", "grid": code, "line": {"type": "Point"}}).status_code == 400
    )
    assert (
        op(client, draft["id"], {"op": "split", "grid": "999", "line": stub}).json()["reason"]
        == "unknown_grid"
    )
    assert op(client, draft["id"], {"op": "explode"}).json()["reason"] == "unknown_op"
    assert not DraftGrid.objects.filter(draft_id=draft["id"], changed=True).exists()


# ------------------------------------------------------------------------------------------ merge, delete
def test_merge_of_neighbours_and_refusal_of_strangers(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    a, b = two_neighbours(draft["id"])
    s = shapes(draft["id"])
    far = [c for c in s if c not in (a, b) and s[c].distance(s[a]) > 0 and s[c].distance(s[b]) > 0]
    if far:  # grids that do not even touch
        refused = op(client, draft["id"], {"op": "merge", "grids": [a, far[0]]})
        assert refused.status_code == 422 and refused.json()["reason"] == "merge_not_adjacent"
    response = op(client, draft["id"], {"op": "merge", "grids": [a, b]})
    assert response.status_code == 200, response.content
    result = response.json()["result"]
    kept = result["changed"][0]
    assert {kept, *result["removed"]} == {a, b}
    assert shapes(draft["id"])[kept].symmetric_difference(s[a].union(s[b])).area < 1e-12
    assert response.json()["validation"]["ok"]


def test_merge_refuses_grids_of_different_communities(client, planner):
    street = busy_community().parent
    draft = open_draft(client, street.code)
    rows = sql(
        """select a.code, b.code from boundaries_draftgrid a join boundaries_draftgrid b
                  on a.draft_id = b.draft_id and a.container_id <> b.container_id
                  and st_intersects(a.geom, b.geom)
                  where a.draft_id = %s limit 1""",
        (draft["id"],),
    )
    response = op(client, draft["id"], {"op": "merge", "grids": list(rows[0])})
    assert response.status_code == 422 and response.json()["reason"] == "merge_different_communities"


def test_delete_gives_the_area_to_the_named_neighbour(client, planner):
    draft = open_draft(client, busy_community().code)
    a, b = two_neighbours(draft["id"])
    s = shapes(draft["id"])
    response = op(client, draft["id"], {"op": "delete", "grid": a, "into": b})
    assert response.status_code == 200, response.content
    assert response.json()["result"] == {"created": [], "changed": [b], "removed": [a]}
    assert shapes(draft["id"])[b].symmetric_difference(s[a].union(s[b])).area < 1e-12
    assert a not in shapes(draft["id"])


# ----------------------------------------------------------------------------------------------- reshape
def test_reshape_moves_the_shared_edge_of_both_neighbours(client, planner):
    draft = open_draft(client, busy_community().code)
    s = shapes(draft["id"])
    for a, b in adjacent(s):
        edge = bent_edge(s[a], s[b], 0.15)
        if edge is None:
            continue
        response = op(client, draft["id"], {"op": "reshape", "grids": [a, b], "edge": edge})
        if response.status_code == 200:
            break
    else:
        raise AssertionError("no reshape accepted")
    after = shapes(draft["id"])
    assert sorted(response.json()["result"]["changed"]) == sorted([a, b])
    assert after[a].union(after[b]).symmetric_difference(s[a].union(s[b])).area < 1e-12
    assert after[a].intersection(after[b]).area < 1e-12
    assert not after[a].equals(s[a])
    assert response.json()["validation"]["ok"], response.json()["validation"]["issues"][:3]


def test_reshape_with_new_geometries_refuses_gaps_and_community_crossings(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    a, b = two_neighbours(draft["id"])
    s = shapes(draft["id"])
    m = 1 / 111_320  # about a metre in degrees
    # shrinking a by 20 m and not giving b anything new leaves a gap
    gap = op(
        client,
        draft["id"],
        {
            "op": "reshape",
            "grids": [a, b],
            "geometries": {a: mapping(s[a].buffer(-20 * m)), b: mapping(s[b])},
        },
    )
    assert gap.status_code == 422 and gap.json()["reason"] == "reshape_gap", gap.content
    assert gap.json()["area_m2"] > 100 and len(gap.json()["at"]) == 2
    # growing a beyond the community line
    out = op(
        client,
        draft["id"],
        {
            "op": "reshape",
            "grids": [a, b],
            "geometries": {a: mapping(s[a].buffer(50 * m, join_style="mitre"))},
        },
    )
    assert out.status_code == 422 and out.json()["reason"] in ("crosses_community", "outside_grids")
    cgeom = from_db(community.geom)
    grown = s[a].union(s[b]).buffer(30 * m, join_style="mitre")
    if not cgeom.covers(grown):
        crossing = op(
            client, draft["id"], {"op": "reshape", "grids": [a, b], "geometries": {a: mapping(grown)}}
        )
        assert crossing.status_code == 422
        assert crossing.json()["reason"] in ("crosses_community", "outside_grids")
    # a geometry for a, b takes the rest: a moves 10 m into b (clipped to their union)
    moved = s[a].union(s[b].intersection(s[a].buffer(10 * m)))
    ok = op(client, draft["id"], {"op": "reshape", "grids": [a, b], "geometries": {a: mapping(moved)}})
    assert ok.status_code == 200, ok.content
    after = shapes(draft["id"])
    assert after[a].union(after[b]).symmetric_difference(s[a].union(s[b])).area < 1e-12
    assert after[a].area > s[a].area


def test_reshape_edge_that_crosses_into_another_community_is_refused(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    a, b = two_neighbours(draft["id"])
    s = shapes(draft["id"])
    cgeom = from_db(community.geom)
    c = s[a].representative_point()
    minx, miny, maxx, maxy = cgeom.bounds
    # a line from inside grid a to far outside the community
    line = {"type": "LineString", "coordinates": [[c.x, c.y], [maxx + 0.01, maxy + 0.01]]}
    response = op(client, draft["id"], {"op": "reshape", "grids": [a, b], "edge": line})
    assert response.status_code == 422 and response.json()["reason"] == "crosses_community"


# ----------------------------------------------------------------------------------------------- create
def test_create_carves_a_dedicated_grid_out_of_the_grids_it_covers(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    a, b = two_neighbours(draft["id"])
    s = shapes(draft["id"])
    edge = s[a].boundary.intersection(s[b].boundary)
    mid = edge.interpolate(0.5, normalized=True)
    side = math.sqrt(min(s[a].area, s[b].area)) * 0.3
    school = shapely.box(mid.x - side / 2, mid.y - side / 2, mid.x + side / 2, mid.y + side / 2)
    response = op(
        client,
        draft["id"],
        {
            "op": "create",
            "polygon": mapping(school),
            "net": "dedicated",
            "kind": "school",
            "name": "青禾实验小学专属网格",
        },
    )
    assert response.status_code == 200, response.content
    result = response.json()["result"]
    assert sorted(result["changed"]) == sorted([a, b]) and len(result["created"]) == 1
    new = result["created"][0]
    after = shapes(draft["id"])
    assert after[new].symmetric_difference(school).area < 1e-12
    assert after[a].intersection(school).area < 1e-12
    union_before = shapely.union_all(list(s.values()))
    assert shapely.union_all(list(after.values())).symmetric_difference(union_before).area < 1e-12
    grid = DraftGrid.objects.get(draft_id=draft["id"], code=new)
    assert grid.net.code == "dedicated" and grid.kind == "school" and grid.name == "青禾实验小学专属网格"
    assert response.json()["validation"]["ok"], response.json()["validation"]["issues"][:3]


def test_create_is_clipped_to_its_community(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    cgeom = from_db(community.geom)
    ring = max(getattr(cgeom, "geoms", [cgeom]), key=lambda g: g.area).exterior
    for k in range(10):  # squares straddling the community line, until one leaves no grid in pieces
        p = ring.interpolate(k / 10, normalized=True)
        poly = shapely.box(p.x - 0.0004, p.y - 0.0004, p.x + 0.0004, p.y + 0.0004)
        assert poly.difference(cgeom).area > poly.area * 0.2  # a good part lies outside
        response = op(client, draft["id"], {"op": "create", "polygon": mapping(poly)})
        if response.status_code == 200:
            break
        assert response.json()["reason"] in ("create_cuts_grid", "create_multipart", "sliver"), (
            response.content
        )
    else:
        raise AssertionError("no square accepted")
    new = response.json()["result"]["created"][0]
    created = shapes(draft["id"])[new]
    assert created.symmetric_difference(poly.intersection(cgeom)).area < 1e-12
    assert response.json()["validation"]["ok"]


# ---------------------------------------------------------------------------------------- impact, publish
def _split_busiest(client, draft_id: int, community: AdminUnit) -> tuple[str, str]:
    """Split the comprehensive grid with the most open cases; returns (old code, new code)."""
    code = sql(
        """select c.grid_code from cases_case c join layers_grid g on g.code = c.grid_code
                  and g.generation_high is null
                  join layers_net n on n.id = g.net_id and n.code = 'comprehensive'
                  where g.community_id = %s and c.status not in ('closed','evaluated','rejected','merged')
                  group by 1 order by count(*) desc, 1 limit 1""",
        (community.id,),
    )[0][0]
    # A working centre has few open cases per grid: reopen half of this grid's (the rest stay closed)
    # so that a split surely moves some open ones, and some closed ones stay behind.
    sql(
        "update cases_case set status = 'in_progress', closed_at = null where grid_code = %s and id %% 2 = 0",
        (code,),
    )
    response = op(client, draft_id, {"op": "split", "grid": code, "line": splittable(draft_id, code)})
    assert response.status_code == 200, response.content
    return code, response.json()["result"]["created"][0]


def test_impact_lists_what_moves_and_publish_does_exactly_that(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    old, new = _split_busiest(client, draft["id"], community)
    a, b = [p for p in two_neighbours_excluding(draft["id"], {old, new})]
    op(client, draft["id"], {"op": "merge", "grids": [a, b], "keep": a})
    impact = client.get(f"{API}/{draft['id']}/impact").json()
    assert impact["stale"] is False
    assert impact["codes"]["new"] == [new] and sorted(impact["codes"]["changed"]) == sorted([old, a])
    assert [r["code"] for r in impact["codes"]["retired"]] == [b]
    assert impact["codes"]["retired"][0]["successors"][0] == a
    moves = {(m["from"], m["to"]): m for m in impact["buildings"]["moves"]}
    assert set(moves) == {(old, new), (b, a)}
    assert (
        impact["buildings"]["buildings"]
        == Building.objects.filter(grid_code__in=[b]).count() + moves[(old, new)]["buildings"]
    )
    assert impact["buildings"]["households"] > 0 and impact["buildings"]["house_units"] > 0
    workers_b = list(GridWorker.objects.filter(grid_code=b).values_list("pk", flat=True))
    assert sorted(w["id"] for w in impact["grid_workers"]) == sorted(workers_b)
    assert all(w["suggested"] == a for w in impact["grid_workers"])
    assert new in impact["new_grids_without_workers"]
    open_moving = impact["open_cases"]["cases"]
    closed_before = dict(
        Case.objects.filter(grid_code__in=[old, b])
        .exclude(status__in=["reported", "registered", "dispatched", "in_progress", "handled", "returned"])
        .values_list("pk", "grid_code")
    )
    gen_before = Generation.in_force()
    # publish
    response = post(client, f"{API}/{draft['id']}/publish", {"note": "拆分大网格，合并两个小网格"})
    assert response.status_code == 200, response.content
    summary = response.json()["summary"]
    assert summary["moved"]["buildings"] == impact["buildings"]["buildings"]
    assert summary["moved"]["open_cases"] == open_moving > 0
    gen_after = Generation.in_force()
    assert all(gen_after[k] == v + 1 for k, v in gen_before.items() if k in (1, 2))
    assert Building.objects.filter(grid_code=b).count() == 0
    assert Building.objects.filter(grid_code=new).count() == moves[(old, new)]["buildings"]
    # closed cases keep the grid they were handled in
    assert (
        dict(Case.objects.filter(pk__in=list(closed_before)).values_list("pk", "grid_code")) == closed_before
    )
    assert not GridWorker.objects.filter(grid_code=b).exists()
    assert GridWorker.objects.filter(pk__in=workers_b, grid_code=a).count() == len(workers_b)
    assert RetiredCode.objects.filter(code=b, successors__0=a).exists()
    change = BoundaryChange.objects.get(draft_id=draft["id"])
    assert change.note == "拆分大网格，合并两个小网格" and change.published_by.username == "planner"
    assert Draft.objects.get(pk=draft["id"]).status == "published"
    assert partition_problems([community.id]) == []
    # the published rows: old rows closed, new rows open, untouched rows as they were
    current = set(Grid.objects.current().filter(community=community).values_list("code", flat=True))
    assert new in current and b not in current and old in current
    assert Grid.objects.filter(code=b, generation_high=gen_before[1]).exists()


def two_neighbours_excluding(draft_id: int, exclude: set[str]) -> tuple[str, str]:
    s = shapes(draft_id)
    comp = {
        g.code for g in DraftGrid.objects.filter(draft_id=draft_id, net__code="comprehensive", deleted=False)
    }
    for a, b in adjacent(s):
        if a in comp and b in comp and not {a, b} & exclude:
            return a, b
    raise AssertionError("no adjacent pair")


def test_a_stale_draft_is_refused_with_409(client, planner):
    community = busy_community()
    first = open_draft(client, community.code)
    second = open_draft(client, community.parent.code)  # another planner, the whole street
    a, b = two_neighbours(first["id"])
    assert op(client, first["id"], {"op": "merge", "grids": [a, b]}).status_code == 200
    c, d = two_neighbours_excluding(second["id"], {a, b})
    assert op(client, second["id"], {"op": "merge", "grids": [c, d]}).status_code == 200
    assert post(client, f"{API}/{first['id']}/publish", {"note": "先发布"}).status_code == 200
    assert client.get(f"{API}/{second['id']}").json()["stale"] is True
    response = post(client, f"{API}/{second['id']}/publish", {"note": "后发布"})
    assert response.status_code == 409 and response.json()["reason"] == "stale_draft"
    assert Draft.objects.get(pk=second["id"]).status != "published"
    # nothing of the second draft reached the published grids
    assert set(Grid.objects.current().filter(code__in=[c, d]).values_list("code", flat=True)) == {c, d}
    # publishing twice is a conflict too
    assert post(client, f"{API}/{first['id']}/publish", {"note": "again"}).status_code == 409


def test_publish_refuses_a_draft_with_errors_and_without_a_note(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    code = next(iter(shapes(draft["id"])))
    grid = DraftGrid.objects.get(draft_id=draft["id"], code=code)
    from boundaries.geometry import to_db

    grid.geom = to_db(from_db(grid.geom).buffer(-0.0002))  # opens a gap, as a bad import would
    grid.changed = True
    grid.save()
    validation = client.get(f"{API}/{draft['id']}/validation").json()
    assert not validation["ok"] and validation["counts"]["gap"] >= 1
    gap = next(i for i in validation["issues"] if i["check"] == "gap")
    assert gap["unit"] == community.code and gap["area_m2"] > 100 and gap["severity"] == "error"
    assert post(client, f"{API}/{draft['id']}/publish", {"note": ""}).json()["reason"] == "note_required"
    response = post(client, f"{API}/{draft['id']}/publish", {"note": "有缝隙"})
    assert response.status_code == 422 and response.json()["reason"] == "invalid_draft"
    assert not BoundaryChange.objects.filter(draft_id=draft["id"]).exists()


def test_validation_flags_households_off_target_without_blocking(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    a, b = two_neighbours(draft["id"])
    op(client, draft["id"], {"op": "merge", "grids": [a, b], "keep": a})
    DraftGrid.objects.filter(draft_id=draft["id"], code=a).update(target_households=10)
    validation = client.get(f"{API}/{draft['id']}/validation").json()
    flagged = [i for i in validation["issues"] if i["check"] == "households_high"]
    assert any(i["grids"] == [a] and i["severity"] == "warning" and i["target"] == 10 for i in flagged)
    assert validation["ok"] is True


def test_retired_codes_are_never_reused(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    a, b = two_neighbours(draft["id"])
    op(client, draft["id"], {"op": "delete", "grid": b, "into": a})
    assert post(client, f"{API}/{draft['id']}/publish", {"note": "删除"}).status_code == 200
    again = open_draft(client, community.code)
    response = op(client, again["id"], {"op": "split", "grid": a, "line": splittable(again["id"], a)})
    new = response.json()["result"]["created"][0]
    assert new != b and int(new[-3:]) > int(b[-3:])
    # a draft that reuses a retired code does not validate
    DraftGrid.objects.filter(draft_id=again["id"], code=new).update(code=b)
    validation = client.get(f"{API}/{again['id']}/validation").json()
    assert validation["counts"].get("retired_code") == 1


def test_new_codes_follow_reading_order_within_one_draft(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    s = shapes(draft["id"])
    codes = sorted(s)
    made = []
    for code in codes[:3]:
        response = op(
            client, draft["id"], {"op": "split", "grid": code, "line": splittable(draft["id"], code)}
        )
        if response.status_code == 200:
            made.append(response.json()["result"]["created"][0])
    assert len(made) >= 2
    after = shapes(draft["id"])
    new = sorted(c for c in after if DraftGrid.objects.get(draft_id=draft["id"], code=c).source_id is None)
    # sequences are consecutive after the highest used, ordered north → south, west → east
    highest = max(
        int(c[-3:])
        for c in Grid.objects.filter(code__startswith=community.code).values_list("code", flat=True)
    )
    assert [int(c[-3:]) for c in new] == list(range(highest + 1, highest + 1 + len(new)))
    from boundaries.geometry import Metric, reading_point
    from layers.gridorder import reading_order

    metric = Metric(4551)
    band = math.sqrt(sum(metric.area(g) for g in after.values()) / len(after))
    pts = [reading_point(after[c], metric) for c in new]
    assert reading_order(pts, band) == list(range(len(new)))


# ----------------------------------------------------------------------------------------------- history
def test_history_answers_for_a_past_day_after_a_publish(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    a, b = two_neighbours(draft["id"])
    grid_b = Grid.objects.current().get(code=b)
    point = from_db(grid_b.geom).representative_point()
    op(client, draft["id"], {"op": "merge", "grids": [a, b], "keep": a})
    assert post(client, f"{API}/{draft['id']}/publish", {"note": "合并"}).status_code == 200
    past = dt.date(2025, 6, 1)  # the demo city's first generation took effect on 2025-01-01
    # reverse geocoding answers for the day asked (the one lookup: geocoding.geocoder.grids_at)
    then = client.get("/api/reverse", {"lon": point.x, "lat": point.y, "date": past.isoformat()}).json()
    assert then["date"] == past.isoformat()
    then = then["grids"]
    now = client.get("/api/reverse", {"lon": point.x, "lat": point.y}).json()["grids"]
    bad_day = {"lon": point.x, "lat": point.y, "date": "2025-13-01"}
    assert client.get("/api/reverse", bad_day).status_code == 400
    assert then["comprehensive"] == b and now["comprehensive"] == a
    assert then["police"] == now["police"]  # other nets are untouched
    # the OGC API grids collection answers for the same day
    url = "/ogcapi/collections/grids/items"
    old = client.get(url, {"code": b, "date": past.isoformat()}, HTTP_ACCEPT="application/geo+json").json()
    assert old["numberMatched"] == 1 and old["features"][0]["properties"]["code"] == b
    today = client.get(url, {"code": b}, HTTP_ACCEPT="application/geo+json").json()
    assert today["numberMatched"] == 0
    fid = old["features"][0]["id"]
    assert client.get(f"/ogcapi/collections/grids/items/{fid}").status_code == 404
    assert client.get(f"/ogcapi/collections/grids/items/{fid}", {"date": "2025-06-01"}).status_code == 200
    before_city = client.get(url, {"date": "2024-06-01"}).json()
    assert before_city["numberMatched"] == 0  # no boundaries were in force yet
    bad = client.get(url, {"date": "2025-02-30"})
    assert bad.status_code == 400 and bad.json()["error"]["en"]
    assert client.get("/ogcapi/collections/buildings/items", {"date": "2025-06-01"}).status_code == 400
    doc = client.get("/ogcapi/api").json()
    names = [p["name"] for p in doc["paths"]["/collections/grids/items"]["get"]["parameters"]]
    assert "date" in names


# ----------------------------------------------------------------------------------------------- permissions
def _user(username: str, role: str, code: str) -> User:
    from gisapp.accounts.models import Profile

    user = User.objects.create_user(username, password="x-test-password-1")
    Profile.objects.create(user=user, role=role, jurisdiction_code=code)
    return user


def test_only_planners_and_admins_inside_their_jurisdiction(client):
    community = busy_community()
    street = community.parent
    other_street = AdminUnit.objects.filter(level="street").exclude(pk=street.pk).order_by("code").first()
    body = {"net": "comprehensive", "area": community.code}
    # anonymous
    assert post(client, API, body).status_code == 401
    # a dispatcher of the whole district may not redraw
    client.force_login(User.objects.get(username="dispatcher"))
    response = post(client, API, body)
    assert response.status_code == 403 and response.json()["reason"] == "forbidden"
    # a planner of another street may not, a planner of this street may
    client.force_login(_user("planner_other", "planner", other_street.code))
    response = post(client, API, body)
    assert response.status_code == 403 and response.json()["reason"] == "outside_jurisdiction"
    client.force_login(_user("planner_here", "planner", street.code))
    draft = open_draft(client, community.code)
    assert post(client, API, {"net": "comprehensive", "area": street.parent.code}).status_code == 403
    # police grids cross street lines: a street planner cannot open them
    assert post(client, API, {"net": "police", "area": street.code}).status_code == 422
    # the other street's planner does not even see the draft
    client.force_login(User.objects.get(username="planner_other"))
    assert client.get(f"{API}/{draft['id']}").status_code == 404
    assert post(client, f"{API}/{draft['id']}/publish", {"note": "x"}).status_code == 404
    # the admin may do anything
    client.force_login(User.objects.get(username="admin"))
    assert client.get(f"{API}/{draft['id']}/validation").status_code == 200
    # a grid worker may not
    client.force_login(User.objects.get(username="worker"))
    assert client.get(f"{API}/{draft['id']}/impact").status_code == 403


def test_bearer_token_api_and_bad_requests(client):
    response = post(client, "/api/auth/token", {"username": "planner", "password": "onenet-demo"})
    token = response.json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    community = busy_community()
    created = client.post(
        API,
        json.dumps({"net": "comprehensive", "area": community.code}),
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201
    draft_id = created.json()["id"]
    assert (
        client.post(API, "not json", content_type="application/json", **auth).json()["reason"] == "bad_json"
    )
    assert (
        client.post(
            API, json.dumps({"net": "nope", "area": community.code}), content_type="application/json", **auth
        ).json()["reason"]
        == "unknown_net"
    )
    assert (
        client.post(
            API, json.dumps({"area": community.code}), content_type="application/json", **auth
        ).status_code
        == 400
    )
    assert client.get(f"{API}/999999", **auth).status_code == 404
    assert client.put(f"{API}/{draft_id}/publish", **auth).status_code == 405
    # GeoJSON in another CRS: a split line given in EPSG:4551 metres
    from boundaries.geometry import Metric

    code = next(iter(shapes(draft_id)))
    line = shape(splittable(draft_id, code))
    metres = Metric(4551).project(line)
    response = client.post(
        f"{API}/{draft_id}/operations",
        json.dumps({"op": "split", "grid": code, "line": mapping(metres), "crs": "EPSG:4551"}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200, response.content
    assert (
        client.post(
            f"{API}/{draft_id}/operations",
            json.dumps({"op": "split", "grid": code, "line": mapping(metres), "crs": "EPSG:99999"}),
            content_type="application/json",
            **auth,
        ).json()["reason"]
        == "bad_crs"
    )
    assert (
        client.post(
            f"{API}/{draft_id}/operations",
            json.dumps({"op": "split", "grid": code, "line": mapping(metres)}),
            content_type="application/json",
            **auth,
        ).status_code
        == 400
    )  # metres read as degrees


# ----------------------------------------------------------------------------------------------- import
def test_a_redrawn_net_from_a_geopackage_becomes_a_draft(tmp_path, client, planner):
    import fiona
    import pyproj
    from django.core.management import call_command

    community = busy_community()
    grids = list(Grid.objects.current().filter(community=community).select_related("net").order_by("code"))
    s = {g.code: from_db(g.geom) for g in grids}
    nets = {g.code: g.net.code for g in grids}
    a, b = next((x, y) for x, y in adjacent(s) if nets[x] == nets[y] == "comprehensive")
    to_gk = pyproj.Transformer.from_crs(4490, 4551, always_xy=True)
    path = tmp_path / "survey.gpkg"
    schema = {
        "geometry": "MultiPolygon",
        "properties": {"code": "str", "name": "str", "net": "str", "kind": "str", "target_households": "int"},
    }
    with fiona.open(path, "w", driver="GPKG", crs="EPSG:4551", schema=schema, layer="grids") as dst:
        for g in grids:
            if g.code == b:
                continue  # the survey merged b into a
            geom = s[a].union(s[b]) if g.code == a else s[g.code]
            geom = shapely.transform(
                geom, lambda xy: __import__("numpy").column_stack(to_gk.transform(xy[:, 0], xy[:, 1]))
            )
            if geom.geom_type == "Polygon":
                geom = shapely.MultiPolygon([geom])
            dst.write(
                {
                    "geometry": mapping(geom),
                    "properties": {
                        "code": g.code,
                        "name": g.name,
                        "net": g.net.code,
                        "kind": g.kind,
                        "target_households": g.target_households,
                    },
                }
            )
    out = __import__("io").StringIO()
    call_command(
        "import_boundary_draft",
        str(path),
        "--net",
        "comprehensive",
        "--area",
        community.code,
        "--user",
        "planner",
        stdout=out,
    )
    body = json.loads(out.getvalue())
    assert body["validation"]["ok"] is True, body
    draft = Draft.objects.get(pk=body["draft"]["id"])
    impact = client.get(f"{API}/{draft.pk}/impact").json()
    assert [r["code"] for r in impact["codes"]["retired"]] == [b]
    assert impact["codes"]["changed"] == [a] and impact["codes"]["new"] == []
    # untouched grids came through the Gauss-Kruger file unchanged
    assert impact["codes"]["unchanged"] == len(grids) - 2
    assert post(client, f"{API}/{draft.pk}/publish", {"note": "按测绘成果调整"}).status_code == 200
    assert partition_problems([community.id]) == []
    # a broken file is refused as a whole, nothing opened
    bad = tmp_path / "bad.geojson"
    bad.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": "12", "name": "x", "net": "comprehensive"},
                        "geometry": mapping(s[a]),
                    }
                ],
            }
        )
    )
    before = Draft.objects.count()
    with pytest.raises(Exception, match="15"):
        call_command(
            "import_boundary_draft",
            str(bad),
            "--net",
            "comprehensive",
            "--area",
            community.code,
            "--user",
            "planner",
        )
    assert Draft.objects.count() == before


# ----------------------------------------------------------------------------------------------- tiles
def _tile_codes(layer: str, lon: float, lat: float, z: int, prop: str) -> set[str]:
    """The `prop` values in the vector tile of `layer` holding the point, rendered by the tile SQL itself
    (within this transaction: the trigger-kept generalised copies of low zooms included)."""
    import mapbox_vector_tile

    from layers.registry import get_layer
    from tiles.queries import tile_query

    band = next(i for i, b in enumerate(get_layer(layer).tile_bands()) if b.minzoom <= z <= b.maxzoom)
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    with connection.cursor() as cur:
        cur.execute(tile_query(layer, band, "all").sql, {"z": z, "x": x, "y": y, "prefix": "", "dept": None})
        data = bytes(cur.fetchone()[0] or b"")
    decoded = mapbox_vector_tile.decode(data) if data else {}
    return {f["properties"].get(prop) for f in decoded.get(layer, {}).get("features", [])}


def test_publish_changes_the_covering_tiles(client, planner):
    community = busy_community()
    draft = open_draft(client, community.code)
    a, b = two_neighbours(draft["id"])
    building = Building.objects.filter(grid_code=b).order_by("pk").first()
    lon, lat = building.point.x, building.point.y
    # z10-11: a band simplified into a trigger-kept table; z14: the source geometry (z8-9 drop small grids)
    before = {z: _tile_codes("grids", lon, lat, z, "code") for z in (10, 14)}
    assert all(b in codes for codes in before.values()), before
    assert b in _tile_codes("buildings", lon, lat, 15, "grid_code")
    op(client, draft["id"], {"op": "merge", "grids": [a, b], "keep": a})
    assert post(client, f"{API}/{draft['id']}/publish", {"note": "合并"}).status_code == 200
    for z in (10, 14):
        after = _tile_codes("grids", lon, lat, z, "code")
        assert b not in after and a in after, (z, after)
    building_codes = _tile_codes("buildings", lon, lat, 15, "grid_code")
    assert b not in building_codes and a in building_codes


def test_overlay_nets_are_redrawn_over_their_district(client, planner):
    from boundaries.validation import SCALE

    district = AdminUnit.objects.get(level="district")
    draft = open_draft(client, district.code, net="police")
    assert draft["nets"] == ["police"] and draft["grids"] > 20
    s = shapes(draft["id"])
    code = max(s, key=lambda c: s[c].area)
    response = op(client, draft["id"], {"op": "split", "grid": code, "line": splittable(draft["id"], code)})
    assert response.status_code == 200, response.content
    new = response.json()["result"]["created"][0]
    highest = max(int(c[-3:]) for c in Grid.objects.filter(net__code="police").values_list("code", flat=True))
    assert new == f"{code[:-3]}{highest + 1:03d}" and new.startswith(district.code + "JW")
    impact = client.get(f"{API}/{draft['id']}/impact").json()
    assert impact["codes"]["new"] == [new] and "buildings" not in impact  # no row stores police codes
    assert post(client, f"{API}/{draft['id']}/publish", {"note": "警格调整"}).status_code == 200
    k = SCALE.format(lat="st_y(st_centroid(d.geom))")
    gap, overlap = sql(
        f"""with cur as (select g.geom from layers_grid g
                         join layers_net n on n.id = g.net_id and n.code = 'police'
                         join layers_generation gen on gen.net_id = n.id and gen.status = 'published'
                         where g.generation_low <= gen.number
                           and (g.generation_high is null or g.generation_high >= gen.number))
            select st_area(st_symdifference(d.geom, (select st_union(geom) from cur))) * {k},
                   ((select sum(st_area(geom)) from cur) - st_area((select st_union(geom) from cur))) * {k}
            from layers_adminunit d where d.id = %s""",
        (district.id,),
    )[0]
    assert gap < 0.01 and overlap < 0.01
    assert Generation.in_force()[Grid.objects.filter(code=new).first().net_id] == 2
