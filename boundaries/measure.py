"""How good a proposal is, measured in PostGIS on the draft itself (the benchmark and the tests use it).

- households of each comprehensive grid against its target (share within ±20 %, min / median / max);
- every building point in exactly one grid of the partition (comprehensive + dedicated);
- the share of grid boundary length within 15 m of a road, a water bank or the community line — every
  shared edge counted once, the community line included (it always qualifies), and also the share of
  the *inner* edges alone (those the proposal drew), which is the stricter figure;
- compactness: Polsby–Popper 4πA/P² of each grid in the Gauss-Kruger zone (1 for a circle, ~0.785 for a
  square; below ~0.2 a grid is long and thin).
"""

from __future__ import annotations

import statistics

from django.db import connection, transaction

from .models import Draft

NEAR_M = 15.0

GRIDS = """
select d.code, d.target_households, d.container_id,
       coalesce((select sum(b.households) from layers_building b where st_contains(d.geom, b.point)), 0),
       4 * pi() * st_area(m) / nullif(st_perimeter(m), 0) ^ 2
from boundaries_draftgrid d join layers_net n on n.id = d.net_id
cross join lateral (select st_transform(d.geom, %(srid)s) as m) t
where d.draft_id = %(draft)s and not d.deleted and n.code = 'comprehensive'
  and d.container_id = any(%(units)s)
order by d.code
"""

# Per community: the union of its grids' boundaries (each edge once), the part of it on the community
# line, and the part within NEAR_M of a road or a water bank.
EDGES = """
with u as (
    select c.id, st_transform(c.geom, %(srid)s) as cg,
           (select st_transform(st_union(st_boundary(d.geom)), %(srid)s) from boundaries_draftgrid d
             join layers_net n on n.id = d.net_id
             where d.draft_id = %(draft)s and not d.deleted and d.container_id = c.id
               and n.code = 'comprehensive') as e
    from layers_adminunit c where c.id = any(%(units)s)
), r as (
    select u.id, u.e, u.cg,
           st_buffer(st_transform(st_union(array(
               select st_intersection(x.geom, st_buffer(c.geom, 0.001)) from (
                   select geom from layers_road union all select st_boundary(geom) from layers_water) x
               join layers_adminunit c on c.id = u.id
               where x.geom && st_expand(c.geom, 0.001))), %(srid)s), %(near)s) as near
    from u where u.e is not null
)
select sum(st_length(e)),
       sum(st_length(st_intersection(e, st_buffer(st_boundary(cg), 0.01)))),
       sum(st_length(st_intersection(e, st_union(coalesce(near, 'POLYGON EMPTY'::geometry),
                                                  st_buffer(st_boundary(cg), %(near)s)))))
from r
"""

COVER = [
    """create temporary table bnd_cover on commit drop as
       select geom from boundaries_draftgrid
       where draft_id = %(draft)s and not deleted and container_id = any(%(units)s)""",
    "create index on bnd_cover using gist (geom)",
    "analyze bnd_cover",
    """select count(*) filter (where n = 0), count(*) filter (where n > 1), count(*)
       from (select b.id, (select count(*) from bnd_cover d where st_contains(d.geom, b.point)) as n
             from layers_building b where b.community_id = any(%(units)s)) x""",
]


def measure(draft: Draft, units: list[int] | None = None) -> dict:
    units = list(units or draft.containers)
    params = {"draft": draft.pk, "units": units, "srid": draft.metric_srid, "near": NEAR_M}
    with connection.cursor() as cur:
        cur.execute(GRIDS, params)
        grids = cur.fetchall()
        cur.execute(EDGES, params)
        total, on_line, near = (float(v or 0) for v in cur.fetchone())
        with transaction.atomic():
            for sql in COVER:
                cur.execute(sql, params)
            uncovered, doubled, buildings = cur.fetchone()
            cur.execute("drop table bnd_cover")
    ratios = [h / t for _, t, _, h, _ in grids if t]
    pp = sorted((round(float(p), 4), code) for code, _, _, _, p in grids if p is not None)
    hh = [int(h) for *_, h, _ in grids]
    inner = total - on_line
    return {
        "grids": len(grids),
        "within_20pct": round(sum(1 for r in ratios if abs(r - 1) <= 0.2) / max(len(ratios), 1), 4),
        "households": {
            "min": min(hh, default=0),
            "median": int(statistics.median(hh)) if hh else 0,
            "max": max(hh, default=0),
        },
        "ratio_to_target": {
            "min": round(min(ratios, default=0), 3),
            "median": round(statistics.median(ratios), 3) if ratios else 0,
            "max": round(max(ratios, default=0), 3),
        },
        "boundary_km": round(total / 1000, 2),
        "near_road_share": round(near / total, 4) if total else 1.0,
        "inner_near_road_share": round((near - on_line) / inner, 4) if inner > 0 else 1.0,
        "polsby_popper": {
            "median": round(statistics.median(p for p, _ in pp), 3) if pp else 0,
            "worst": [{"code": c, "value": p} for p, c in pp[:5]],
        },
        "buildings": {"total": buildings, "in_no_grid": uncovered, "in_several_grids": doubled},
    }
