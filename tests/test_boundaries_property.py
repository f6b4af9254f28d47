"""Property: whatever random splits, merges, reshapes, creations and deletions planners publish, every
community stays covered without gap or overlap, every building and open case lies in exactly one grid
whose code it carries, and codes stay unique and stable.

Each example runs in a savepoint rolled back at its end, so examples do not see one another.  CI replays
the same 30 examples (about 200 operations) every run; a long run by hand draws new ones:
    ONENET_BOUNDARY_EXAMPLES=500 ONENET_TEST_DB=test_onenet_bnd ./gis test tests/test_boundaries_property.py
"""

from __future__ import annotations

import math
import os
from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boundaries import operations
from boundaries.drafts import create_draft
from boundaries.errors import Refusal
from boundaries.models import DraftGrid, RetiredCode
from boundaries.publish import publish
from boundaries.testing import adjacent, bent_edge, cut_line, live_shapes, partition_problems, square_around
from layers.models import AdminUnit, Grid

pytestmark = pytest.mark.django_db
EXAMPLES = int(os.environ.get("ONENET_BOUNDARY_EXAMPLES", "30"))
# CI replays the same examples every run (no flaky failures); a long run by hand explores new ones.
DERANDOMIZE = "ONENET_BOUNDARY_EXAMPLES" not in os.environ
TALLY: Counter[str] = Counter()  # accepted and refused operations, printed at the end (pytest -s)
KINDS = ("split", "merge", "reshape", "create", "delete")
# Every refusal must be one of these, with a 4xx: anything else is a bug.
EXPECTED_REFUSALS = {
    "split_no_cut",
    "split_many_pieces",
    "sliver",
    "merge_not_adjacent",
    "merge_different_nets",
    "delete_not_adjacent",
    "reshape_no_cut",
    "reshape_multipart",
    "reshape_not_adjacent",
    "crosses_community",
    "outside_grids",
    "create_multipart",
    "create_cuts_grid",
    "create_outside_grids",
    "invalid_result",
    "bad_request",  # e.g. a merge of a grid with itself
}

operation = st.tuples(
    st.sampled_from(KINDS),
    st.integers(min_value=0, max_value=10**6),  # which grid or pair
    st.floats(min_value=0.0, max_value=1.0),  # angle, size
    st.floats(min_value=-0.35, max_value=0.35),  # shift, bend
)


def _payload(draft, kind: str, pick: int, a: float, b: float) -> dict | None:
    shapes = live_shapes(draft)
    if not shapes:
        return None
    codes = sorted(shapes)
    nets = dict(DraftGrid.objects.filter(draft=draft, deleted=False).values_list("code", "net__code"))
    if kind == "split":
        code = codes[pick % len(codes)]
        return {"op": "split", "grid": code, "line": cut_line(shapes[code], a * math.pi, b)}
    if kind == "create":
        code = codes[pick % len(codes)]
        return {
            "op": "create",
            "polygon": square_around(shapes[code], 0.15 + 0.5 * a, (b, -b)),
            "net": "dedicated",
            "kind": "school",
        }
    pairs = [(x, y) for x, y in adjacent(shapes) if nets[x] == nets[y]]
    if kind == "merge" and (a < 0.1 or not pairs):  # sometimes two grids that may not touch
        return {"op": "merge", "grids": [codes[pick % len(codes)], codes[(pick * 7 + 3) % len(codes)]]}
    if not pairs:
        return None
    x, y = pairs[pick % len(pairs)]
    if kind == "merge":
        return {"op": "merge", "grids": [x, y]}
    if kind == "delete":
        return {"op": "delete", "grid": x, "into": y}
    edge = bent_edge(shapes[x], shapes[y], b)
    return None if edge is None else {"op": "reshape", "grids": [x, y], "edge": edge}


def _fingerprint(draft) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(
            "select code, deleted, md5(st_asbinary(geom)) from boundaries_draftgrid where draft_id = %s "
            "order by id",
            [draft.pk],
        )
        return cur.fetchall()


@pytest.fixture(scope="module")
def communities(django_db_setup, django_db_blocker) -> list[int]:
    with django_db_blocker.unblock():
        rows = (
            Grid.objects.current()
            .filter(net__code="comprehensive")
            .values("community_id")
            .order_by("community_id")
            .distinct()
        )
        return [r["community_id"] for r in rows]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rounds=st.lists(st.lists(operation, min_size=1, max_size=4), min_size=1, max_size=4),
    where=st.integers(min_value=0, max_value=10**6),
)
def test_random_redraws_keep_every_community_seamless(db, communities, rounds, where):
    planner = User.objects.get(username="planner")
    community = AdminUnit.objects.get(pk=communities[where % len(communities)])
    with transaction.atomic():
        for ops in rounds:
            draft = create_draft(planner, "comprehensive", community.code)
            before_current = dict(
                Grid.objects.current().filter(community=community).values_list("code", "id")
            )
            highest = max(
                int(c[-3:]) for c in Grid.objects.filter(community=community).values_list("code", flat=True)
            )
            for kind, pick, a, b in ops:
                payload = _payload(draft, kind, pick, a, b)
                if payload is None:
                    continue
                snapshot = _fingerprint(draft)
                try:
                    operations.apply(draft, payload, planner)
                    TALLY[f"{kind} accepted"] += 1
                except Refusal as exc:
                    assert 400 <= exc.status < 500 and exc.reason in EXPECTED_REFUSALS, (exc.reason, payload)
                    assert _fingerprint(draft) == snapshot, "a refused operation changed the draft"
                    TALLY[f"{kind} refused: {exc.reason}"] += 1
            publish(draft, planner, "随机调整 random redraw")
            TALLY["publishes"] += 1
            # the partition, the buildings and the open cases
            problems = partition_problems([community.pk])
            assert problems == [], problems
            after = dict(Grid.objects.current().filter(community=community).values_list("code", "id"))
            # untouched grids keep their code and their very row
            untouched = DraftGrid.objects.filter(draft=draft, deleted=False, changed=False)
            for g in untouched:
                assert after[g.code] == before_current[g.code] == g.source_id
            # new codes come after every code ever used here; retired codes are gone for good
            for code in set(after) - set(before_current):
                assert int(code[-3:]) > highest
            retired = set(
                RetiredCode.objects.filter(code__startswith=community.code).values_list("code", flat=True)
            )
            assert not retired & set(after)
            assert set(before_current) - set(after) <= retired
        transaction.set_rollback(True)


def test_enough_operations_were_accepted():
    """The property is only meaningful if most kinds of operation went through many times."""
    print(dict(sorted(TALLY.items())))
    if EXAMPLES >= 30 and TALLY:
        accepted = sum(n for k, n in TALLY.items() if k.endswith("accepted"))
        assert accepted >= EXAMPLES * 2, TALLY
        assert all(TALLY[f"{k} accepted"] > 0 for k in KINDS), TALLY


def test_the_checker_sees_a_broken_partition(db, communities):
    """The property above is only as good as partition_problems: it must fail on a real gap."""
    community_id = communities[0]
    assert partition_problems([community_id]) == []
    grid = Grid.objects.current().filter(community_id=community_id, net__code="comprehensive").first()
    with connection.cursor() as cur:
        cur.execute(
            "update layers_grid set geom = st_multi(st_buffer(geom, -0.0003)) where id = %s", [grid.pk]
        )
    problems = partition_problems([community_id])
    assert any("gap" in p for p in problems) and any("building" in p for p in problems), problems


def test_the_whole_demo_city_starts_seamless(db, communities):
    assert partition_problems(communities) == []
