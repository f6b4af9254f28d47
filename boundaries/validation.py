"""Validation of a whole draft, set-wise in PostGIS: one statement per check, never a loop over grids.

Measured in the draft's Gauss-Kruger zone (EPSG:4551 for the demo city), so the 0.01 m² tolerance means
square metres.  Errors block publishing; warnings (household counts off target) are only shown.
"""

from __future__ import annotations

import json
import time
from collections import Counter

from django.db import connection, transaction

from .geometry import SLIVER_AREA_M2, SLIVER_WIDTH_M, TOLERANCE_M2
from .models import Draft, DraftStatus

MAX_LISTED = 500  # issues returned in full; the counts cover all of them
HOUSEHOLD_LOW, HOUSEHOLD_HIGH = 0.5, 1.5

MESSAGES = {
    "gap": ("社区（区县）内有未被网格覆盖的空隙", "part of the community (district) is covered by no grid"),
    "overlap": ("网格相互重叠", "grids overlap"),
    "outside": ("网格超出所属社区（区县）", "the grid reaches outside its community (district)"),
    "invalid": ("几何无效", "invalid geometry"),
    "multipart": ("网格由多块组成，应为一个整块", "the grid has several parts; one is required"),
    "sliver": (
        "细长碎片网格（平均宽度小于 5 米或面积小于 200 平方米）",
        "sliver grid (narrower than 5 m on average or smaller than 200 m²)",
    ),
    "duplicate_code": ("网格编码重复", "duplicate grid code"),
    "bad_code": (
        "网格编码不以所属社区编码开头或不是 15 位",
        "the code is not 15 digits starting with its community",
    ),
    "retired_code": ("使用了已停用的网格编码", "the code was retired and may not be reused"),
    "households_low": ("户数低于目标的一半", "fewer households than half the target"),
    "households_high": ("户数超过目标的 1.5 倍", "more households than 1.5 × the target"),
}
WARNINGS = {"households_low", "households_high"}

# Overlays run in the stored CRS, where every lookup (point in grid) happens, and their results are
# measured with the local scale of the unit (square metres per square degree at its latitude): an affine
# measure, which keeps a degenerate sliver degenerate.  Projecting instead — the overlay's inputs or even
# its results — reports phantom slivers at every T-junction an edit leaves (a vertex on a neighbour's
# straight edge): three points collinear in degrees are not collinear in metres, and a 150 m edge then
# shows a few hundredths of a square metre of "gap" that no point of the city falls into.
SCALE = """((111132.954 - 559.822 * cos(2 * radians({lat})) + 1.175 * cos(4 * radians({lat})))
          * (111412.84 * cos(radians({lat})) - 93.5 * cos(3 * radians({lat}))))"""

PREPARE = [
    """create temporary table bnd_g (
           id bigint, code text, net_id bigint, container_id bigint, target int, follows bool,
           geom geometry, area_m float8, perimeter_m float8) on commit drop""",
    "create temporary table bnd_c (id bigint, code text, geom geometry, k float8) on commit drop",
    """insert into bnd_g
       select d.id, d.code, d.net_id, d.container_id, d.target_households, n.follows_communities, d.geom,
              st_area(m), st_perimeter(m)
       from boundaries_draftgrid d join layers_net n on n.id = d.net_id
       cross join lateral (select st_transform(d.geom, %(srid)s) as m) t
       where d.draft_id = %(draft)s and not d.deleted and d.container_id = any(%(containers)s)""",
    """insert into bnd_c select a.id, a.code, a.geom, """
    + SCALE.format(lat="st_y(st_centroid(a.geom))")
    + """
       from layers_adminunit a where a.id = any(%(containers)s)""",
    "create index on bnd_g (container_id)",
    "analyze bnd_g",
    "analyze bnd_c",
]

# Each check is its own statement (one big statement of CTEs was planned badly: 2 s lost before its
# first overlay).  Every statement returns (check, unit code, grid codes, value, point, target).
UNIONS = """
create temporary table bnd_u on commit drop as
select c.id, c.code, c.k, c.geom as cg, a.ug, coalesce(a.summed, 0) as summed
from bnd_c c left join (select container_id, st_union(geom) as ug, sum(st_area(geom)) as summed
                        from bnd_g group by container_id) a on a.container_id = c.id
"""

# Overlap is looked for pair by pair only in units whose grids' areas add up to more than their union
# (in square degrees: 1e-14 is about 1e-4 m² here, far below the tolerance, far above rounding).
CHECKS = [
    """select 'gap', u.code, null::text[], m.a, st_pointonsurface(m.gap), null::int, m.gap
       from bnd_u u cross join lateral (
           select d.gap, st_area(d.gap) * u.k as a
           from (select case when u.ug is null then u.cg else st_difference(u.cg, u.ug) end as gap) d) m
       where m.a > %(tol)s""",
    """with suspect as materialized (
           select id, code, k from bnd_u where ug is not null and summed - st_area(ug) > 1e-14)
       select 'overlap', c.code, array[a.code, b.code], m.a, st_pointonsurface(m.o), null::int, m.o
       from suspect c join bnd_g a on a.container_id = c.id
       join bnd_g b on b.container_id = c.id and a.id < b.id
       cross join lateral (select o, st_area(o) * c.k as a from st_intersection(a.geom, b.geom) o) m
       where st_intersects(a.geom, b.geom) and m.a > %(tol)s""",
    """select 'outside', c.code, array[g.code], m.a, st_pointonsurface(m.o), null::int, m.o
       from bnd_g g join bnd_c c on c.id = g.container_id
       cross join lateral (select o, st_area(o) * c.k as a from st_difference(g.geom, c.geom) o) m
       where not st_covers(c.geom, g.geom) and m.a > %(tol)s""",
    """select 'invalid', c.code, array[g.code], null::float8, st_pointonsurface(st_makevalid(g.geom)),
              null::int, null::geometry
       from bnd_g g join bnd_c c on c.id = g.container_id where not st_isvalid(g.geom)""",
    """select 'multipart', c.code, array[g.code], st_numgeometries(g.geom)::float8, st_pointonsurface(g.geom),
              null::int, null::geometry
       from bnd_g g join bnd_c c on c.id = g.container_id where st_numgeometries(g.geom) <> 1""",
    """select 'sliver', c.code, array[g.code], g.area_m, st_pointonsurface(g.geom), null::int, null::geometry
       from bnd_g g join bnd_c c on c.id = g.container_id
       where st_isvalid(g.geom) and (g.area_m < %(sliver_area)s
             or 2 * g.area_m / greatest(g.perimeter_m, 1e-9) < %(sliver_width)s)""",
    """select 'duplicate_code', min(c.code), array[g.code], count(*)::float8, null::geometry, null::int,
              null::geometry
       from bnd_g g join bnd_c c on c.id = g.container_id group by g.code having count(*) > 1""",
    """select 'bad_code', c.code, array[g.code], null::float8, st_pointonsurface(g.geom), null::int,
              null::geometry
       from bnd_g g join bnd_c c on c.id = g.container_id
       where g.follows and (g.code !~ '^[0-9]{15}$' or left(g.code, 12) <> c.code)""",
    """select 'retired_code', c.code, array[g.code], null::float8, st_pointonsurface(g.geom), null::int,
              null::geometry
       from bnd_g g join bnd_c c on c.id = g.container_id join boundaries_retiredcode r on r.code = g.code""",
]

HOUSEHOLDS = """
select case when h.n < g.target * %(low)s then 'households_low' else 'households_high' end,
       c.code, array[g.code], h.n, st_pointonsurface(g.geom), g.target, null::geometry
from bnd_g g join bnd_c c on c.id = g.container_id
cross join lateral (select coalesce(sum(b.households), 0) as n from layers_building b
                    where st_contains(g.geom, b.point)) h
where g.target > 0 and g.follows and (h.n < g.target * %(low)s or h.n > g.target * %(high)s)
"""


def validate(draft: Draft, containers: list[int] | None = None, record: bool = True) -> dict:
    """Check the draft (or only `containers` of it); a full check without errors marks it validated."""
    started = time.perf_counter()
    scope = list(draft.containers if containers is None else containers)
    params = {
        "draft": draft.pk,
        "containers": scope,
        "srid": draft.metric_srid,
        "tol": TOLERANCE_M2,
        "sliver_area": SLIVER_AREA_M2,
        "sliver_width": SLIVER_WIDTH_M,
        "low": HOUSEHOLD_LOW,
        "high": HOUSEHOLD_HIGH,
    }
    # Temporary tables need a transaction to live in; inside one already, this is a savepoint.
    with connection.cursor() as cur, transaction.atomic():
        cur.execute("drop table if exists bnd_g, bnd_c, bnd_u")
        for statement in PREPARE:
            cur.execute(statement, params)
        cur.execute("select count(*) from bnd_g")
        n_grids = cur.fetchone()[0]
        cur.execute(UNIONS, params)
        rows = []
        for check in [*CHECKS, HOUSEHOLDS]:
            cur.execute(
                f"select kind, unit, grids, value, st_x(p), st_y(p), target, st_asgeojson(shape, 8) "
                f"from ({check}) x(kind, unit, grids, value, p, target, shape)",
                params,
            )
            rows += cur.fetchall()
        cur.execute("drop table if exists bnd_g, bnd_c, bnd_u")
    issues = []
    counts: Counter[str] = Counter()
    for kind, unit, grids, value, x, y, target, shape in rows:
        counts[kind] += 1
        zh, en = MESSAGES[kind]
        issue = {
            "check": kind,
            "severity": "warning" if kind in WARNINGS else "error",
            "unit": unit,
            "grids": list(grids or []),
            "message": {"zh": zh, "en": en},
        }
        if kind in ("gap", "overlap", "outside", "sliver"):
            issue["area_m2"] = round(float(value), 4)
        elif kind == "multipart":
            issue["parts"] = int(value)
        elif kind in WARNINGS:
            issue["households"] = int(value)
            issue["target"] = int(target)
        if x is not None:
            issue["at"] = [round(x, 8), round(y, 8)]
        if shape is not None:  # the area itself, for the editor to draw (gaps, overlaps, outside parts)
            issue["geometry"] = json.loads(shape)
        issues.append(issue)
    order = {"error": 0, "warning": 1}
    issues.sort(key=lambda i: (order[i["severity"]], i["check"], i["unit"], i["grids"]))
    errors = sum(n for k, n in counts.items() if k not in WARNINGS)
    warnings = sum(n for k, n in counts.items() if k in WARNINGS)
    result = {
        "ok": errors == 0,
        "scope": "draft" if containers is None else "affected",
        "errors": errors,
        "warnings": warnings,
        "counts": dict(sorted(counts.items())),
        "checked": {"grids": n_grids, "units": len(scope)},
        "tolerance_m2": TOLERANCE_M2,
        "metric_srid": f"EPSG:{draft.metric_srid}",
        "seconds": round(time.perf_counter() - started, 3),
        "issues": issues[:MAX_LISTED],
        "truncated": len(issues) > MAX_LISTED,
    }
    if record and containers is None and draft.status in (DraftStatus.DRAFT, DraftStatus.VALIDATED):
        status = DraftStatus.VALIDATED if errors == 0 else DraftStatus.DRAFT
        if draft.status != status:
            draft.status = status
            draft.save(update_fields=["status"])
    return result
