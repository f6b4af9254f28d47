"""Ways to draw operations on real grids, shared by the tests and the benchmark.

They play the planner: a cut across a grid, the shared edge of two neighbours bent sideways, a square
around a school.  Coordinates are CGCS2000 degrees, as the API takes them by default.
"""

from __future__ import annotations

import math

import shapely
from django.db import connection
from shapely.geometry import LineString, Polygon, mapping
from shapely.geometry.base import BaseGeometry

from .geometry import from_db, shared_edge
from .models import Draft, DraftGrid
from .validation import SCALE


def live_shapes(draft: Draft, container_id: int | None = None) -> dict[str, BaseGeometry]:
    qs = DraftGrid.objects.filter(draft=draft, deleted=False)
    if container_id is not None:
        qs = qs.filter(container_id=container_id)
    return {g.code: from_db(g.geom) for g in qs.order_by("code")}


def cut_line(poly: BaseGeometry, angle: float, shift: float = 0.0) -> dict:
    """A straight line through the polygon's representative point (moved `shift` × its size across the
    line), at `angle` radians, long enough to cross the whole polygon."""
    c = poly.representative_point()
    minx, miny, maxx, maxy = poly.bounds
    size = math.hypot(maxx - minx, maxy - miny)
    dx, dy = math.cos(angle), math.sin(angle)
    cx, cy = c.x - dy * shift * size, c.y + dx * shift * size
    return mapping(LineString([(cx - dx * size, cy - dy * size), (cx + dx * size, cy + dy * size)]))


def bent_edge(a: BaseGeometry, b: BaseGeometry, offset: float) -> dict | None:
    """The shared edge of a and b with its middle pushed sideways by `offset` × its length."""
    edge = shared_edge(a, b)
    if edge is None:
        return None
    p0, p1 = edge.coords[0], edge.coords[-1]
    mid = edge.interpolate(0.5, normalized=True)
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    n = math.hypot(dx, dy) or 1.0
    length = edge.length
    moved = (mid.x - dy / n * offset * length, mid.y + dx / n * offset * length)
    return mapping(LineString([p0, moved, p1]))


def adjacent(shapes: dict[str, BaseGeometry]) -> list[tuple[str, str]]:
    """Pairs of grids sharing an edge (not only a corner)."""
    codes = sorted(shapes)
    tree = shapely.STRtree([shapes[c] for c in codes])
    pairs = []
    for i, code in enumerate(codes):
        for j in tree.query(shapes[code], predicate="intersects"):
            if j > i and shared_edge(shapes[code], shapes[codes[j]]) is not None:
                pairs.append((code, codes[j]))
    return pairs


def square_around(poly: BaseGeometry, fraction: float, shift: tuple[float, float] = (0.0, 0.0)) -> dict:
    """A square of side `fraction` × √area around the polygon's representative point, moved by `shift`
    × that side."""
    c = poly.representative_point()
    half = math.sqrt(poly.area) * fraction / 2
    x, y = c.x + shift[0] * 2 * half, c.y + shift[1] * 2 * half
    return mapping(
        Polygon([(x - half, y - half), (x + half, y - half), (x + half, y + half), (x - half, y + half)])
    )


CURRENT_GROUP_GRIDS = """
select g.* from layers_grid g join layers_net n on n.id = g.net_id
join layers_generation gen on gen.net_id = g.net_id and gen.status = 'published'
where n.partition_group = %(group)s and g.generation_low <= gen.number
  and (g.generation_high is null or g.generation_high >= gen.number)
"""


def partition_problems(community_ids: list[int], group: str = "community", srid: int = 4551) -> list[str]:
    """What breaks the published partition of these communities: gaps, overlaps, points in no grid or in
    two, stored grid codes that disagree with the map, duplicate codes.  Empty when all is well."""
    from django.db import connection

    problems: list[str] = []
    p = {"group": group, "ids": community_ids, "srid": srid}
    with connection.cursor() as cur:
        # Overlay in the stored CRS, measure the results at the local scale (see boundaries.validation).
        k = SCALE.format(lat="st_y(st_centroid(a.geom))")
        cur.execute(
            f"""with cur as ({CURRENT_GROUP_GRIDS})
                select a.code, st_area(st_symdifference(a.geom, u.ug)) * {k},
                       (select coalesce(sum(st_area(st_intersection(x.geom, y.geom))), 0) * {k}
                        from cur x join cur y on x.id < y.id
                        and x.community_id = a.id and y.community_id = a.id
                        and st_intersects(x.geom, y.geom))
                from layers_adminunit a cross join lateral (
                    select st_union(c.geom) ug from cur c where c.community_id = a.id) u
                where a.id = any(%(ids)s)""",
            p,
        )
        for code, gap, overlap in cur.fetchall():
            if gap is None or gap >= 0.01:
                problems.append(f"community {code}: gap/outside {gap} m²")
            if overlap is not None and overlap >= 0.01:
                problems.append(f"community {code}: overlap {overlap} m²")
        for label, table, point, extra in (
            ("building", "layers_building", "point", "true"),
            (
                "open case",
                "cases_case",
                "geom",
                "t.status not in ('closed', 'evaluated', 'rejected', 'merged') and t.geom is not null",
            ),
        ):
            cur.execute(
                f"""with cur as ({CURRENT_GROUP_GRIDS})
                    select t.id, t.grid_code, array_agg(c.code) filter (where c.id is not null)
                    from {table} t join layers_adminunit a
                         on a.id = any(%(ids)s) and st_contains(a.geom, t.{point})
                    left join cur c on st_contains(c.geom, t.{point})
                    where {extra}
                    group by t.id, t.grid_code
                    having count(c.id) <> 1 or t.grid_code <> min(c.code) limit 5""",
                p,
            )
            for row in cur.fetchall():
                problems.append(f"{label} {row[0]} has grid_code {row[1]} but lies in {row[2]}")
        cur.execute(
            f"with cur as ({CURRENT_GROUP_GRIDS}) select code from cur group by code having count(*) > 1", p
        )
        problems += [f"duplicate current code {r[0]}" for r in cur.fetchall()]
    return problems


def remove_comprehensive_grids() -> None:
    """ "The city with its grids removed", for the grid assistant's tests and benchmark: every
    comprehensive grid row goes (dedicated grids stay), and so do draft rows copied from them.  Only
    ever inside a transaction that is rolled back."""
    grids = (
        "select g.id from layers_grid g join layers_net n on n.id = g.net_id where n.code = 'comprehensive'"
    )
    with connection.cursor() as cur:
        cur.execute(f"delete from boundaries_draftgrid where source_id in ({grids})")
        cur.execute(f"delete from layers_grid where id in ({grids})")
