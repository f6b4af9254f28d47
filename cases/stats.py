"""Evaluation (考核评价): per grid, community, street, district or department over a period, with rankings.

Definitions (DOMAIN.md): of the cases reported in the period and accepted as cases (not rejected or
merged), a case is *due* once its deadline has passed or it is closed; 结案率 = closed / due;
按期结案率 = closed by the deadline / due; 返工率 = closed cases reworked at least once / closed;
延期率 = due cases extended / due; average handling time = reported → closed, in hours; satisfaction =
the mean rating (1–5) and the share of ratings ≥ 4.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from django.db import connection
from django.utils import timezone

from .services import visible_cases

GROUPS = {
    "grid": "c.grid_code",
    "community": "left(c.grid_code, 12)",
    "street": "left(c.grid_code, 9)",
    "district": "left(c.grid_code, 6)",
    "department": "d.name",
}
COLUMNS = [
    "unit",
    "name",
    "received",
    "due",
    "closed",
    "on_time",
    "closure_rate",
    "on_time_rate",
    "rework_rate",
    "extension_rate",
    "avg_handling_hours",
    "satisfaction",
    "satisfied_share",
    "rank",
]


def evaluate(user, group: str, since: dt.datetime, until: dt.datetime) -> list[dict]:
    """One row per unit of `group` inside the user's jurisdiction, ranked best first."""
    key = GROUPS[group]
    base = visible_cases(user).filter(reported_at__gte=since, reported_at__lt=until).exclude(grid_code="")
    ids_sql, ids_params = base.values("id").query.sql_with_params()
    sql = f"""
        with c as (select * from cases_case where id in ({ids_sql})),
        x as (
          select {key} as unit, c.*,
                 (c.status not in ('rejected', 'merged')
                  and (c.closed_at is not null or (c.due_at is not null and c.due_at < now()))) as is_due
          from c left join accounts_department d on d.id = c.department_id
          {"where c.department_id is not null" if group == "department" else ""})
        select unit, count(*) as received,
               count(*) filter (where is_due) as due,
               count(*) filter (where is_due and closed_at is not null) as closed,
               count(*) filter (where is_due and closed_at is not null
                                and (due_at is null or closed_at <= due_at)) as on_time,
               count(*) filter (where is_due and closed_at is not null and reworks > 0) as reworked,
               count(*) filter (where is_due and extensions > 0) as extended,
               avg(extract(epoch from closed_at - reported_at) / 3600)
                 filter (where closed_at is not null and status not in ('rejected', 'merged')) as hours,
               avg(rating) as satisfaction,
               count(*) filter (where rating >= 4)::float / nullif(count(rating), 0) as satisfied
        from x group by unit
    """
    with connection.cursor() as cur:
        cur.execute(sql, ids_params)
        rows = cur.fetchall()
    names = _names(group, [r[0] for r in rows])
    out = []
    for unit, received, due, closed, on_time, reworked, extended, hours, satisfaction, satisfied in rows:
        out.append(
            {
                "unit": unit,
                "name": names.get(unit, unit),
                "received": received,
                "due": due,
                "closed": closed,
                "on_time": on_time,
                "closure_rate": _ratio(closed, due),
                "on_time_rate": _ratio(on_time, due),
                "rework_rate": _ratio(reworked, closed),
                "extension_rate": _ratio(extended, due),
                "avg_handling_hours": round(float(hours), 2) if hours is not None else None,
                "satisfaction": round(float(satisfaction), 2) if satisfaction is not None else None,
                "satisfied_share": round(satisfied, 4) if satisfied is not None else None,
            }
        )
    out.sort(key=lambda r: (-(r["on_time_rate"] or 0), -(r["closure_rate"] or 0), -r["received"], r["unit"]))
    for rank, row in enumerate(out, start=1):
        row["rank"] = rank
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _names(group: str, units: list[str]) -> dict[str, str]:
    from layers.models import AdminUnit, Grid

    if group == "department":
        return {u: u for u in units}
    if group == "grid":
        return dict(Grid.objects.current().filter(code__in=units).values_list("code", "name"))
    return dict(AdminUnit.objects.filter(code__in=units).values_list("code", "name"))


def default_period() -> tuple[dt.datetime, dt.datetime]:
    now = timezone.now()
    return now - dt.timedelta(days=30), now


def to_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens Chinese CSV correctly


def to_xlsx(rows: list[dict], title: str) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(COLUMNS)
    for row in rows:
        ws.append([row.get(c) for c in COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
