"""After the files of an onboarding are in: every building and case in its grid, and what is there.

Buildings carry the comprehensive grid's code (`grid_code`, the jurisdiction key of everything inside
them: addresses, house units, residents); cases carry it too and, in `grids`, their grid of every net,
from the same reverse lookup the case loop uses, so an onboarded case and a new report at the same
point agree.  Grids may have been drawn by the assistant after the buildings and cases were loaded:
this is the step that catches them up.
"""

from __future__ import annotations

from django.db import connection

from layers.models import Address, Building, Grid, HouseUnit

COMPREHENSIVE = "comprehensive"


def _current_ids(net: str | None = None) -> tuple[str, list]:
    """SQL (and its parameters) of the ids of the grids in force, of one net or of all."""
    qs = Grid.objects.current()
    if net:
        qs = qs.filter(net__code=net)
    sql, params = qs.values("id").query.sql_with_params()
    return sql, list(params)


def to_grids(communities: list[int], cases: list[int]) -> dict:
    """Move the loaded buildings and cases to the grids in force now; counts of rows given a grid."""
    from cases.models import Case
    from cases.placement import locate

    grid_ids, params = _current_ids(COMPREHENSIVE)
    with connection.cursor() as cur:
        # the importer's rule (layers.io.locate): the grid holding the point, the lowest code on a shared
        # edge, else the nearest within ~1 m (a footprint on the city's edge, reprojected); buildings by
        # their point on surface, stations and party organisations by their point
        for table, point in (
            ("layers_building", "point"),
            ("layers_servicestation", "geom"),
            ("layers_partyorganisation", "geom"),
        ):
            cur.execute(
                f"""update {table} p set grid_code = coalesce((
                        select g.code from layers_grid g
                        where g.id in ({grid_ids}) and st_dwithin(g.geom, p.{point}, 1e-5)
                        order by st_distance(g.geom, p.{point}), g.code limit 1), '')
                    where p.community_id = any(%s)""",
                [*params, communities],
            )
        cur.execute(
            "select count(*) from layers_building where community_id = any(%s) and grid_code <> ''",
            [communities],
        )
        (buildings,) = cur.fetchone()
    placed = 0
    for case in Case.objects.filter(pk__in=cases, geom__isnull=False).only("pk", "geom"):
        try:
            where = locate(case.geom)
        except Exception:  # noqa: BLE001 - a point outside every grid keeps what it had
            continue
        Case.objects.filter(pk=case.pk).update(grid_code=where.grid_code, grids=where.grids)
        placed += bool(where.grid_code)
    return {"buildings": buildings, "cases": placed}


def buildings_without_address(communities: list[int], examples: int) -> dict:
    """Loaded buildings that neither their file nor the address register gave an address."""
    rows = Building.objects.filter(community_id__in=communities, address="")
    return {
        "count": rows.count(),
        "examples": [
            {"id": pk, "code": code, "at": [round(p.x, 7), round(p.y, 7)]}
            for pk, code, p in rows.order_by("pk").values_list("pk", "code", "point")[:examples]
        ],
    }


def counts(communities: list[int], cases: list[int]) -> dict:
    """What is in the database now for the loaded communities: the report's figures to check against."""
    from cases.models import Case

    grid_ids, params = _current_ids()
    with connection.cursor() as cur:
        cur.execute(
            f"""select n.code, count(g.id) from layers_grid g join layers_net n on n.id = g.net_id
                where g.community_id = any(%s) and g.id in ({grid_ids}) group by n.code""",
            [communities, *params],
        )
        grids = dict(cur.fetchall())
    in_scope = {"building__community_id__in": communities}
    return {
        "buildings": Building.objects.filter(community_id__in=communities).count(),
        "addresses": Address.objects.filter(**in_scope).count(),
        "house_units": HouseUnit.objects.filter(**in_scope).count(),
        "cases": Case.objects.filter(pk__in=cases).count(),
        "grids": grids,
    }
