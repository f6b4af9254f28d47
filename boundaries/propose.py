"""The grid drawing assistant (网格划分助手): comprehensive grids proposed along roads, sized by households.

For each community of the area: take the community minus its dedicated grids (schools, hospitals,
estates, enterprises are kept as they are), cut it into faces along its roads, alleys, water and the
community line (boundaries.faces), and group the faces into contiguous, compact grids of about the
planner's household target (boundaries.grouping) — 300 by default in urban communities, 100 in villages;
a community under its target is one grid.  Households are the buildings' household counts, so grids
follow where people live, not area.

Why faces of the road network rather than, say, a Voronoi diagram of buildings or a k-means of
households: 街巷定界 asks for grid lines on streets and alleys, which a face grouping gives by
construction (every edge it draws is a road, a bank or the community line, except where one block alone
holds too many households and must be cut between its buildings); and faces tile the community exactly,
so the proposal is seamless without any snapping.

The result is an ordinary boundaries draft: the proposed grids replace the comprehensive grids of those
communities; a proposed grid that holds most of the households of an existing grid — and they are most
of its own — keeps that grid's code (its workers and residents know it); every other one gets the next
free code of its community in reading order (west → east, north → south; boundaries.codes).  The planner
then edits, validates, previews the impact and publishes it like any draft.  Everything is computed
before the draft is written, so a cancelled or failed proposal leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from django.db import connection, transaction
from shapely.geometry.base import BaseGeometry

from gisapp.accounts.jurisdiction import prefix_for_code
from layers.models import AdminLevel, AdminUnit, Generation, GenerationStatus, Grid, Net
from layers.models.grids import database_now

from .codes import renumber
from .drafts import check_permission, create_draft, group_nets, touch
from .errors import Refusal
from .faces import Buildings, community_faces
from .geometry import Metric, clean_holes, from_db, metric_of, metric_srid_for, polygons, to_db
from .grouping import partition
from .models import Draft, DraftGrid

URBAN_TARGET = 300
VILLAGE_TARGET = 100
COMPREHENSIVE = "comprehensive"
MAX_TARGET = 100_000


class Cancelled(Exception):
    """The planner cancelled the proposal; nothing was written."""


@dataclass
class Proposed:
    """One proposed grid: its shape and what is in it."""

    geom: BaseGeometry
    households: int
    # households of each current grid code inside it (for keeping codes)
    by_code: dict[str, int]


@dataclass
class CommunityPlan:
    community: AdminUnit
    target: int
    grids: list[Proposed]
    dedicated: list[int]  # ids of the dedicated grid rows the plan was drawn around
    cut_m: float  # length of lines drawn through blocks rather than along a road


def check_targets(target: object, village_target: object) -> tuple[int, int]:
    out = []
    for value, name in ((target, "target"), (village_target, "village_target")):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TARGET:
            raise Refusal(
                400,
                "bad_target",
                f"{name} 应为 1 到 {MAX_TARGET} 之间的整数（户）",
                f"{name} must be a whole number of households between 1 and {MAX_TARGET}",
            )
        out.append(value)
    return out[0], out[1]


def communities_of(area: AdminUnit) -> list[AdminUnit]:
    return list(
        AdminUnit.objects.filter(
            level=AdminLevel.COMMUNITY, code__startswith=prefix_for_code(area.code)
        ).order_by("code")
    )


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def plan_community(community: AdminUnit, target: int, metric: Metric, dedicated: list[Grid]) -> CommunityPlan:
    """The proposed comprehensive grids of one community (nothing is written)."""
    unit = from_db(community.geom)
    region = unit
    if dedicated:
        region = unit.difference(shapely.union_all([from_db(g.geom) for g in dedicated]))
    wkb = bytes(community.geom.ewkb)
    lines = [
        shapely.from_wkb(bytes(r[0]))
        for r in _fetch(
            "select st_asbinary(geom) from layers_road where geom && st_geomfromewkb(%s) "
            "and st_intersects(geom, st_geomfromewkb(%s)) order by id",
            [wkb, wkb],
        )
    ]
    lines += [
        shapely.from_wkb(bytes(r[0]))
        for r in _fetch(
            "select st_asbinary(st_boundary(geom)) from layers_water where geom && st_geomfromewkb(%s) "
            "and st_intersects(geom, st_geomfromewkb(%s)) order by id",
            [wkb, wkb],
        )
    ]
    rows = _fetch(
        "select st_x(point), st_y(point), households, st_asbinary(geom), grid_code from layers_building "
        "where point && st_geomfromewkb(%s) and st_intersects(point, st_geomfromewkb(%s)) order by id",
        [wkb, wkb],
    )
    buildings = Buildings(
        points=np.array([(r[0], r[1]) for r in rows], dtype=float).reshape(-1, 2),
        households=np.array([r[2] for r in rows], dtype=float),
        footprints=[shapely.from_wkb(bytes(r[3])) for r in rows],
    )
    codes = [r[4] for r in rows]
    grids: list[Proposed] = []
    cut_m = 0.0
    for piece in polygons(region):
        if metric.area(piece) <= 0.01:
            continue
        faces = community_faces(piece, lines, buildings, target, metric)
        cut_m += faces.cuts_m
        for group in partition(faces.graph, target):
            shape = shapely.union_all([p for n in group for p in faces.shapes[n]])
            parts = sorted(polygons(shape), key=lambda p: -p.area)
            geom = clean_holes(parts[0], metric) if len(parts) == 1 else shapely.MultiPolygon(parts)
            inside = shapely.contains_xy(geom, buildings.points[:, 0], buildings.points[:, 1])
            by_code: dict[str, int] = defaultdict(int)
            for i in np.flatnonzero(inside):
                by_code[codes[i]] += int(buildings.households[i])
            grids.append(Proposed(geom, int(buildings.households[inside].sum()), dict(by_code)))
    return CommunityPlan(community, target, grids, sorted(g.pk for g in dedicated), cut_m)


def ensure_generation(nets: list[Net]) -> None:
    """A city onboarded without any grid file has no generation yet: publish an empty first one, so the
    proposal has a base to be a draft of (its publish then makes generation 2, the first with grids)."""
    in_force = Generation.in_force()
    for net in nets:
        if net.pk not in in_force and not Generation.objects.filter(net=net).exists():
            Generation.objects.create(
                net=net,
                number=1,
                status=GenerationStatus.PUBLISHED,
                effective_from=database_now(),
                note="初始空版本 empty initial generation",
            )


def propose(
    user,
    area_code: str,
    target: int = URBAN_TARGET,
    village_target: int = VILLAGE_TARGET,
    note: str = "",
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[Draft, dict]:
    """Propose the comprehensive grids of every community in the area as a new draft; returns the draft
    and a summary (grids, households against targets, length cut through blocks)."""
    target, village_target = check_targets(target, village_target)
    area = AdminUnit.objects.filter(code=area_code).first()
    if area is None:
        raise Refusal(422, "unknown_area", f"行政区划不存在：{area_code}", f"no such admin unit: {area_code}")
    check_permission(user, area)
    net = Net.objects.filter(code=COMPREHENSIVE).first()
    if net is None:
        raise Refusal(422, "unknown_net", "没有综合网格这个网", "there is no comprehensive net")
    communities = communities_of(area)
    if not communities:
        raise Refusal(422, "empty_area", "该范围内没有社区或村", "the area holds no communities or villages")
    nets = group_nets(net.partition_group)
    ensure_generation(nets)
    centre = area.geom.centroid
    metric = Metric(metric_srid_for(centre.x), centre.y)
    dedicated_nets = [n.pk for n in nets if n.pk != net.pk]
    current = Grid.objects.current().filter(net_id__in=dedicated_nets, community__in=communities)
    dedicated: dict[int, list[Grid]] = defaultdict(list)
    for g in current.order_by("code"):
        dedicated[g.community_id].append(g)
    plans = []
    for i, community in enumerate(communities):
        if cancelled is not None and cancelled():
            raise Cancelled
        goal = village_target if community.rural else target
        plans.append(plan_community(community, goal, metric, dedicated.get(community.pk, [])))
        if progress is not None:
            progress(i + 1, len(communities))
    if cancelled is not None and cancelled():
        raise Cancelled
    text = (
        note
        or f"网格划分助手 {target}/{village_target} 户 grid assistant, {target}/{village_target} households"
    )
    with transaction.atomic():
        draft = create_draft(user, COMPREHENSIVE, area.code, text)
        summary = _write(draft, plans, net)
        renumber(draft, set(draft.containers), metric_of(draft))
        touch(draft)
    summary.update({"target": target, "village_target": village_target, "communities": len(plans)})
    return draft, summary


def _write(draft: Draft, plans: list[CommunityPlan], net: Net) -> dict:
    """Replace the draft's comprehensive grids of each planned community by the plan's grids."""
    rows = DraftGrid.objects.filter(draft=draft, deleted=False)
    by_container: dict[int, list[DraftGrid]] = defaultdict(list)
    for g in rows.order_by("code"):
        by_container[g.container_id].append(g)
    kept = created = retired = 0
    for plan in plans:
        cid = plan.community.pk
        mine = by_container.get(cid, [])
        used = sorted(g.source_id for g in mine if g.net_id != net.pk and g.source_id is not None)
        if used != plan.dedicated:
            raise Refusal(
                409,
                "changed_meanwhile",
                f"{plan.community.name}的专属网格在划分期间被修改，请重新划分",
                f"the dedicated grids of {plan.community.code} changed during the proposal; propose again",
            )
        old = [g for g in mine if g.net_id == net.pk]
        matches = _match(plan.grids, old)
        for i, grid in enumerate(plan.grids):
            keep = matches.get(i)
            if keep is not None:
                keep.geom = to_db(grid.geom)
                keep.target_households = plan.target
                keep.changed = True
                keep.save(update_fields=["geom", "target_households", "changed"])
                kept += 1
                continue
            DraftGrid.objects.create(
                draft=draft,
                net=net,
                code=f"new-{uuid.uuid4().hex[:12]}",
                name="",
                kind="standard",
                container_id=cid,
                community_id=cid,
                district_id=mine[0].district_id if mine else _district_of(plan.community),
                target_households=plan.target,
                source=None,
                changed=True,
                deleted=False,
                auto_name=True,
                geom=to_db(grid.geom),
            )
            created += 1
        reused = {g.pk for g in matches.values()}
        for g in old:
            if g.pk not in reused:
                g.deleted = True
                g.save(update_fields=["deleted"])
                retired += 1
    households = [g.households for p in plans for g in p.grids]
    targets = [p.target for p in plans for _ in p.grids]
    within = sum(1 for h, t in zip(households, targets, strict=True) if abs(h - t) <= 0.2 * t)
    return {
        "grids": len(households),
        "kept_codes": kept,
        "new_codes": created,
        "retired_codes": retired,
        "within_20pct": within,
        "households": {
            "min": min(households, default=0),
            "median": int(np.median(households)) if households else 0,
            "max": max(households, default=0),
        },
        "cut_through_blocks_m": round(sum(p.cut_m for p in plans), 1),
    }


def _match(grids: list[Proposed], old: list[DraftGrid]) -> dict[int, DraftGrid]:
    """Proposed grid index → the existing grid whose code it keeps: the pairs where each holds the
    majority of the other's households, largest overlap first."""
    if not old:
        return {}
    total_old: dict[str, int] = defaultdict(int)
    for g in grids:
        for code, n in g.by_code.items():
            total_old[code] += n
    by_code = {g.code: g for g in old}
    pairs = sorted(
        (
            (n, i, code)
            for i, g in enumerate(grids)
            for code, n in g.by_code.items()
            if code in by_code and n > 0
        ),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    out: dict[int, DraftGrid] = {}
    taken: set[str] = set()
    for n, i, code in pairs:
        if i in out or code in taken:
            continue
        if 2 * n > grids[i].households and 2 * n > total_old[code]:
            out[i] = by_code[code]
            taken.add(code)
    return out


def _district_of(community: AdminUnit) -> int:
    unit = community
    while unit.level != AdminLevel.DISTRICT and unit.parent_id is not None:
        unit = AdminUnit.objects.only("id", "level", "parent_id").get(pk=unit.parent_id)
    return unit.pk
