"""The grid drawing assistant (boundaries.propose, .faces, .grouping, .proposals) on the demo city.

"The demo city with its grids removed": inside each test's transaction the comprehensive grid rows are
deleted, so the proposal starts from communities, roads, water, buildings and the dedicated grids only,
as a city that adopts the platform without a grid file would.  Figures are measured on the draft by
boundaries.measure, the same code the benchmark reports with.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
import shapely
from django.contrib.auth.models import User
from django.db import connection

from boundaries.codes import highest_used
from boundaries.faces import Buildings, community_faces
from boundaries.geometry import Metric, from_db, metric_of, reading_point
from boundaries.grouping import FaceGraph, grid_count, partition
from boundaries.measure import measure
from boundaries.models import Draft, DraftGrid, Proposal
from boundaries.propose import Cancelled, propose
from boundaries.publish import publish
from boundaries.testing import remove_comprehensive_grids
from boundaries.validation import validate
from layers.gridorder import reading_order
from layers.models import AdminUnit, Building, Grid

pytestmark = pytest.mark.django_db
DISTRICT = "990102"
API = "/api/boundaries/proposals"


@pytest.fixture
def planner():
    return User.objects.get(username="planner")


@pytest.fixture
def no_grids():
    """The demo city without its comprehensive grids (dedicated grids stay), for this test only."""
    remove_comprehensive_grids()
    assert not Grid.objects.filter(net__code="comprehensive").exists()


@pytest.fixture
def district_proposal(planner, no_grids):
    draft, summary = propose(planner, DISTRICT, 300, 100)
    return draft, summary


def comprehensive(draft: Draft):
    return DraftGrid.objects.filter(draft=draft, deleted=False, net__code="comprehensive")


# ------------------------------------------------------------------------------------------ the district
def test_a_district_proposal_validates_and_meets_the_household_and_road_figures(district_proposal):
    draft, summary = district_proposal
    result = validate(draft)
    assert result["errors"] == 0, result["counts"]
    figures = measure(draft)
    assert figures["grids"] == summary["grids"] == comprehensive(draft).count() > 250
    assert figures["within_20pct"] >= 0.9, figures
    assert figures["near_road_share"] >= 0.8, figures
    assert figures["buildings"]["in_no_grid"] == 0 and figures["buildings"]["in_several_grids"] == 0
    assert figures["polsby_popper"]["median"] > 0.5
    # every grid is one piece and carries the target it was drawn for (villages 100, communities 300)
    rural = dict(AdminUnit.objects.filter(level="community").values_list("id", "rural"))
    for g in comprehensive(draft):
        assert from_db(g.geom).geom_type in ("Polygon", "MultiPolygon") and len(g.geom) == 1
        assert g.target_households == (100 if rural[g.container_id] else 300)


def test_codes_follow_the_rule_and_dedicated_grids_are_untouched(district_proposal):
    draft, _ = district_proposal
    metric = metric_of(draft)
    rows = list(DraftGrid.objects.filter(draft=draft, deleted=False).select_related("net", "container"))
    by_container = defaultdict(list)
    for g in rows:
        by_container[g.container_id].append(g)
    dedicated = {g.id: g for g in Grid.objects.current().filter(net__code="dedicated")}
    for grids in by_container.values():
        unit = grids[0].container
        new = [g for g in grids if g.net.code == "comprehensive"]
        assert all(g.source_id is None and g.auto_name for g in new)
        # the next free sequences of the community, after the highest ever used (dedicated grids' codes)
        start = highest_used(unit.code)
        seqs = sorted(int(g.code[-3:]) for g in new)
        assert seqs == list(range(start + 1, start + 1 + len(new)))
        assert all(len(g.code) == 15 and g.code.startswith(unit.code) for g in new)
        # in reading order: west → east along bands as high as the community's average grid, north → south
        geoms = {g.pk: from_db(g.geom) for g in grids}
        band = math.sqrt(sum(metric.area(s) for s in geoms.values()) / len(grids))
        order = reading_order([reading_point(geoms[g.pk], metric) for g in new], band)
        assert [new[i].code for i in order] == sorted(g.code for g in new)
        assert all(g.name == f"{unit.name}第{int(g.code[-3:])}网格" for g in new)
        for g in grids:
            if g.net.code == "dedicated":
                src = dedicated[g.source_id]
                assert not g.changed and g.code == src.code and g.geom.equals_exact(src.geom, 0)


def test_the_same_proposal_twice_gives_the_same_grids(planner, no_grids):
    street = "990102004"
    first, _ = propose(planner, street, 250, 80)
    second, _ = propose(planner, street, 250, 80)
    a = {g.code: from_db(g.geom) for g in comprehensive(first)}
    b = {g.code: from_db(g.geom) for g in comprehensive(second)}
    assert a.keys() == b.keys() and len(a) > 20
    assert all(shapely.equals_exact(a[c], b[c], 0) for c in a)


def test_a_community_under_its_target_is_one_grid_and_a_smaller_target_gives_more_grids(planner, no_grids):
    community = AdminUnit.objects.filter(level="community", rural=False).order_by("code").first()
    households = sum(Building.objects.filter(community=community).values_list("households", flat=True))
    one, s1 = propose(planner, community.code, households + 1, 100)
    assert s1["grids"] == comprehensive(one).count() == 1
    many, s2 = propose(planner, community.code, 150, 100)
    assert s2["grids"] == comprehensive(many).count() == grid_count(households, 150) > 10
    assert validate(many)["errors"] == 0


def test_a_proposal_over_existing_grids_keeps_the_codes_of_grids_it_mostly_keeps(planner):
    street = "990102002"
    draft, summary = propose(planner, street, 300, 100)
    assert summary["kept_codes"] > 0 and summary["new_codes"] + summary["kept_codes"] == summary["grids"]
    kept = comprehensive(draft).filter(source__isnull=False)
    assert kept.count() == summary["kept_codes"]
    removed = DraftGrid.objects.filter(draft=draft, deleted=True).count()
    assert removed == summary["retired_codes"]
    assert validate(draft)["errors"] == 0


def test_a_proposal_publishes_like_any_draft(planner, no_grids):
    community = AdminUnit.objects.get(code="990102003002")
    draft, summary = propose(planner, community.code, 300, 100)
    change = publish(draft, planner, "网格划分助手（测试）")
    codes = set(Grid.objects.current().filter(community=community).values_list("code", flat=True))
    assert {g.code for g in DraftGrid.objects.filter(draft=draft, deleted=False)} == codes
    # every building of the community now carries the code of the grid holding its point
    with connection.cursor() as cur:
        cur.execute(
            """select count(*) from layers_building b join layers_grid g
                 on st_contains(g.geom, b.point) and g.generation_high is null
                 and g.net_id in (select id from layers_net where partition_group = 'community')
               where b.community_id = %s and b.grid_code <> g.code""",
            [community.pk],
        )
        assert cur.fetchone()[0] == 0
    assert change.summary["rows"]["opened"] == summary["grids"]


def test_a_cancelled_proposal_writes_nothing(planner):
    before = Draft.objects.count()
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        propose(planner, "990102001", 300, 100, cancelled=cancelled)
    assert Draft.objects.count() == before


# ---------------------------------------------------------------------------------------- the parts
def test_grouping_gives_connected_balanced_groups():
    # a 12 × 6 lattice of blocks, 50 households each (one empty park), with edges of 100 m
    n, m = 12, 6
    idx = {(i, j): k for k, (i, j) in enumerate((i, j) for j in range(m) for i in range(n))}
    weight = [0.0 if (i, j) == (5, 2) else 50.0 for j in range(m) for i in range(n)]
    graph = FaceGraph(
        weight=weight, area=[10_000.0] * len(idx), xy=[(i * 100.0, j * 100.0) for (i, j) in idx]
    )
    for (i, j), k in idx.items():
        for di, dj in ((1, 0), (0, 1)):
            if (i + di, j + dj) in idx:
                graph.connect(k, idx[(i + di, j + dj)], 100.0)
    groups = partition(graph, 300)
    assert sorted(x for g in groups for x in g) == list(range(len(idx)))
    assert len(groups) == grid_count(sum(weight), 300) == 12
    for g in groups:
        assert len(graph.components(g)) == 1
        assert abs(sum(weight[x] for x in g) - 300) <= 60
    assert partition(graph, 300) == groups  # deterministic
    assert grid_count(250, 300) == 1 and grid_count(450, 300) == 2 and grid_count(1000, 300) == 3


def test_an_oversized_block_is_cut_between_its_buildings():
    metric = Metric(4551, 46.6)
    kx, ky = 111412.84 * math.cos(math.radians(46.6)), 111132.954
    # a 400 m × 100 m block with 8 buildings of 60 households each in a row, and no road inside
    x0, y0 = 125.0, 46.6
    block = shapely.box(x0, y0, x0 + 400 / kx, y0 + 100 / ky)
    foot = [
        shapely.box(x0 + (20 + 50 * i) / kx, y0 + 30 / ky, x0 + (50 + 50 * i) / kx, y0 + 70 / ky)
        for i in range(8)
    ]
    pts = [(f.centroid.x, f.centroid.y) for f in foot]
    b = Buildings(points=np.array(pts), households=np.array([60.0] * 8), footprints=foot)
    faces = community_faces(block, [], b, 240, metric)
    # cut while a part holds more than 0.4 × 240 households, into parts of about 0.2 × 240
    assert sum(faces.households) == 480 and len(faces.households) >= 5 and max(faces.households) <= 96
    assert shapely.union_all([p for s in faces.shapes for p in s]).symmetric_difference(block).area < 1e-14
    for line in faces.cut_lines:  # no cut runs through a footprint
        assert not any(line.crosses(f) for f in foot)


# ------------------------------------------------------------------------------------------ the API
@pytest.fixture
def inline(settings):
    settings.BOUNDARY_PROPOSAL_INLINE = True


def test_the_api_queues_reports_progress_and_names_the_draft(
    client, planner, inline, django_capture_on_commit_callbacks
):
    client.force_login(planner)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(API, {"area": "990102001001", "target": 250}, content_type="application/json")
    assert r.status_code == 202, r.content
    job = r.json()["proposal"]
    assert job["status"] == "queued" and job["target"] == 250 and job["village_target"] == 100
    done = client.get(job["links"]["self"]).json()["proposal"]
    assert done["status"] == "done" and done["done"] == done["total"] == 1 and done["progress"] == 1
    draft = Draft.objects.get(pk=done["draft"])
    assert done["summary"]["grids"] == comprehensive(draft).count() and draft.created_by == planner
    assert client.get(f"/api/boundaries/drafts/{draft.pk}").json()["grids"] >= done["summary"]["grids"]
    # a finished run cannot be cancelled
    r = client.delete(job["links"]["self"])
    assert r.status_code == 409 and r.json()["reason"] == "proposal_finished"


def test_a_run_cancelled_before_it_starts_makes_no_draft(client, planner, inline):
    client.force_login(planner)
    before = Draft.objects.count()
    job = client.post(API, {"area": DISTRICT}, content_type="application/json").json()["proposal"]
    r = client.delete(job["links"]["self"])
    assert r.status_code == 200 and r.json()["proposal"]["status"] == "cancelled"
    from boundaries import proposals

    proposals.kick()  # inline: nothing left to work
    assert Draft.objects.count() == before
    assert Proposal.objects.get(pk=job["id"]).status == "cancelled"


@pytest.mark.parametrize(
    "body, status, reason",
    [
        ({"area": DISTRICT, "target": "many"}, 400, "bad_target"),
        ({"area": DISTRICT, "target": 0}, 400, "bad_target"),
        ({"area": DISTRICT, "village_target": True}, 400, "bad_target"),
        ({"area": DISTRICT, "note": "a\u0000b"}, 400, "bad_json"),
        ({"target": 300}, 400, "bad_request"),
        ({"area": "990199"}, 422, "unknown_area"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(client, planner, body, status, reason):
    client.force_login(planner)
    before = Proposal.objects.count()
    r = client.post(API, body, content_type="application/json")
    assert r.status_code == status and r.json()["reason"] == reason
    assert r.json()["error"]["zh"] and r.json()["error"]["en"]
    assert Proposal.objects.count() == before


def test_only_planners_propose_and_see_runs(client, planner):
    assert client.post(API, {"area": DISTRICT}, content_type="application/json").status_code == 401
    client.force_login(User.objects.get(username="worker"))
    r = client.post(API, {"area": DISTRICT}, content_type="application/json")
    assert r.status_code == 403 and r.json()["reason"] == "forbidden"
    job = Proposal.objects.create(
        area_code=DISTRICT, target=300, village_target=100, total=1, status="done", created_by=planner
    )
    assert client.get(f"{API}/{job.pk}").status_code == 403
    client.force_login(planner)
    assert client.get(f"{API}/{job.pk}").status_code == 200
    assert client.get(f"{API}/not-a-uuid").status_code == 404
    assert client.get(f"{API}/00000000-0000-0000-0000-000000000000").status_code == 404
