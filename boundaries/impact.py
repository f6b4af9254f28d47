"""What a draft would move if published: codes, buildings, households, residents, places, cases, workers.

Only points that can change grid are looked at: those inside a changed or new grid of the draft, and
those holding a code the draft changes or retires.  Every other point lies in a grid whose geometry the
draft left alone, so its grid cannot change.  The same queries drive publish, so the preview is exactly
what publishing does.
"""

from __future__ import annotations

from django.db import connection, transaction

from gisapp.accounts.models import Profile
from layers.masking import mask_name
from layers.models import GridWorker, Net

from .drafts import is_stale
from .models import Draft

OPEN_CASE_EXCLUDED = ("closed", "evaluated", "rejected", "merged")
MAX_ITEMS = 200

# Live grids of the draft, and the codes of published grids the draft changes or removes.
_DRAFT_CTES = """
dg as (select id, code, geom from boundaries_draftgrid where draft_id = %(draft)s and not deleted),
changed as (select id, code, geom from boundaries_draftgrid
            where draft_id = %(draft)s and not deleted and changed),
touched as (select distinct code from boundaries_draftgrid
            where draft_id = %(draft)s and source_id is not null and (changed or deleted))
"""

# `new_code`: the draft grid holding the point (a point on a shared edge goes to the lowest code).
_MOVES = """
with {ctes},
cand as (
    select t.id from {source} t where t.grid_code in (select code from touched)
    union
    select t.id from {source} t join changed c on st_intersects(c.geom, t.point)
),
moved as (
    select t.*, (select dg.code from dg where st_intersects(dg.geom, t.point)
                 order by st_contains(dg.geom, t.point) desc, dg.code limit 1) as new_code
    from {source} t where t.id in (select id from cand)
)
select {select} from moved where new_code is distinct from grid_code
"""


def moves_sql(table: str, point: str, extra: str = "", where: str = "", select: str = "*") -> str:
    """Rows of `table` whose grid the draft changes: (id, grid_code, point, extra…, new_code)."""
    columns = f"id, grid_code, {point} as point" + (f", {extra}" if extra else "")
    source = f"(select {columns} from {table} where {where or 'true'})"
    return _MOVES.format(ctes=_DRAFT_CTES, source=source, select=select)


def _fetch(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


BUILDING_EXTRA = (
    "households, residents, "
    "(select count(*) from layers_houseunit h where h.building_id = layers_building.id) as units"
)
OPEN_CASES = "status not in ('closed', 'evaluated', 'rejected', 'merged') and geom is not null"


# layer → (table, point column, extra columns, row filter, aggregate columns and their names)
LAYERS = {
    "buildings": (
        "layers_building",
        "point",
        BUILDING_EXTRA,
        "",
        "count(*), sum(households), sum(residents), sum(units)",
        ("buildings", "households", "residents", "house_units"),
    ),
    "party_organisations": (
        "layers_partyorganisation",
        "geom",
        "members",
        "",
        "count(*), sum(members)",
        ("organisations", "members"),
    ),
    "service_stations": ("layers_servicestation", "geom", "", "", "count(*)", ("stations",)),
    "open_cases": ("cases_case", "geom", "number", OPEN_CASES, "count(*)", ("cases",)),
}
# Layers whose moving rows are also listed one by one (a case has a number people look up).
LISTED = {"open_cases": "number"}


def point_moves(draft: Draft, keep: bool = False) -> dict[str, dict]:
    """(from code, to code) aggregates per layer; empty for overlay nets, whose codes no row stores.

    The rows that move are computed once into temporary tables `bnd_mv_<layer>` (id, grid_code,
    new_code, …); with `keep` they are left for the caller's transaction (publish updates from them, so
    it writes exactly what the preview counted), otherwise dropped."""
    if not Net.objects.filter(code=draft.net.code, follows_communities=True).exists():
        return {}
    p = {"draft": draft.pk}
    out: dict[str, dict] = {}
    with transaction.atomic(), connection.cursor() as cur:
        for name, (table, point, extra, where, aggregates, names) in LAYERS.items():
            cur.execute(f"drop table if exists bnd_mv_{name}")
            cur.execute(
                f"create temporary table bnd_mv_{name} on commit drop as "
                + moves_sql(table, point, extra, where),
                p,
            )
            cur.execute(
                f"select grid_code, new_code, {aggregates} from bnd_mv_{name} "
                f"group by 1, 2 order by 3 desc, 1, 2"
            )
            out[name] = _aggregate(cur.fetchall(), names)
            if name in LISTED:
                cur.execute(
                    f"select {LISTED[name]}, grid_code, new_code from bnd_mv_{name} order by 1 limit %s",
                    [MAX_ITEMS],
                )
                out[name]["items"] = [{"id": i, "from": a or None, "to": b} for i, a, b in cur.fetchall()]
            if not keep:
                cur.execute(f"drop table bnd_mv_{name}")
        cur.execute(
            f"with {_DRAFT_CTES} select count(*) from cases_case "
            f"where grid_code in (select code from touched) "
            f"and status in ('closed', 'evaluated', 'rejected', 'merged')",
            p,
        )
        out["open_cases"]["closed_cases_keep_their_grid"] = cur.fetchone()[0]
    return out


def _aggregate(rows: list[tuple], names: tuple[str, ...]) -> dict:
    totals = {n: 0 for n in names}
    moves = []
    for old, new, *values in rows:
        values = [int(v or 0) for v in values]
        for n, v in zip(names, values, strict=True):
            totals[n] += v
        moves.append({"from": old or None, "to": new, **dict(zip(names, values, strict=True))})
    return {**totals, "moves": moves[:MAX_ITEMS], "truncated": len(moves) > MAX_ITEMS}


def code_changes(draft: Draft) -> dict:
    """New, changed, retired (with the grids that take over their area) and unchanged codes."""
    p = {"draft": draft.pk}
    rows = _fetch(
        """select code, source_id is null, changed, net_id from boundaries_draftgrid
           where draft_id = %(draft)s and not deleted order by code""",
        p,
    )
    new = [r[0] for r in rows if r[1]]
    changed = [r[0] for r in rows if not r[1] and r[2]]
    unchanged = sum(1 for r in rows if not r[1] and not r[2])
    retired = _fetch(
        """with live as (select code, geom from boundaries_draftgrid
                         where draft_id = %(draft)s and not deleted)
           select d.code, n.code, coalesce((
               select array_agg(l.code order by st_area(st_intersection(l.geom, g.geom)) desc)
               from live l where st_intersects(l.geom, g.geom)
                 and st_area(st_intersection(l.geom, g.geom)) > 1e-12), '{}')
           from boundaries_draftgrid d join layers_grid g on g.id = d.source_id
           join layers_net n on n.id = d.net_id
           where d.draft_id = %(draft)s and d.deleted
             and not exists (select 1 from live where live.code = d.code)
           order by d.code""",
        p,
    )
    return {
        "new": new,
        "changed": changed,
        "retired": [{"code": c, "net": n, "successors": list(s)} for c, n, s in retired],
        "unchanged": unchanged,
    }


def people(codes: dict) -> dict:
    """Grid workers and user accounts tied to a retired code: they must follow a successor grid."""
    successor = {r["code"]: (r["successors"][0] if r["successors"] else None) for r in codes["retired"]}
    # Only the columns needed (values()): these rows belong to other features and grow new columns.
    # Names masked (layers.masking): the id, role and grid are what a reassignment needs.
    workers = [
        {**w, "name": mask_name(w["name"]), "suggested": successor.get(w["grid_code"])}
        for w in GridWorker.objects.filter(grid_code__in=list(successor))
        .order_by("grid_code", "pk")
        .values("id", "name", "role", "grid_code")
    ]
    users = [
        {
            "username": p["user__username"],
            "role": p["role"],
            "jurisdiction_code": p["jurisdiction_code"],
            "suggested": successor.get(p["jurisdiction_code"]),
        }
        for p in Profile.objects.filter(jurisdiction_code__in=list(successor)).values(
            "user__username", "role", "jurisdiction_code"
        )
    ]
    # New codes are fresh, so nobody works there yet: publish cannot guess who should.
    return {"grid_workers": workers, "users": users, "new_grids_without_workers": list(codes["new"])}


def impact(draft: Draft) -> dict:
    codes = code_changes(draft)
    return {
        "draft": draft.pk,
        "stale": is_stale(draft),
        "codes": codes,
        **point_moves(draft),
        **people(codes),
    }
