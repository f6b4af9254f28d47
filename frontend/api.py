"""Small JSON endpoints the map pages need beyond the layer, case and geocoder APIs.

- `/api/map/areas/<code>`: an admin unit or grid for the drill-down (chain, children, extent, outline);
  public, like the admin-units and grids layers it reads.
- `/api/map/cases.geojson`: the open cases of the user's jurisdiction with their progress light, for the
  big screen's clustered case layer (the case tiles carry status but not the light, which depends on the
  clock and the working calendar).
- `/api/map/indicators/{people,events,operations}`: the three panels of the one-screen overview.  People
  and houses are *counted, never listed*: only sums per area leave the server, never a row.
- `/api/map/cases/<number>/suggestion`, `/api/map/departments`: what the dispatch form preselects.
- `/api/public/nearby`: the public "Where am I?" card — grid, community, the grid workers who chose to
  publish their work contact, and the nearest public stations with distance and whether they are open.

Every internal endpoint is scoped with `gisapp.accounts.jurisdiction` (directly or through
`cases.services.visible_cases`), the one scoping mechanism.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
import time
from collections import defaultdict

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.gzip import gzip_page
from ninja import Query, Router
from ninja.decorators import decorate_view
from pydantic import Field

from cases.models import Case, CaseStatus, Category
from cases.models.case import FINAL_STATES
from cases.services import visible_cases
from field.services import today_summary
from gisapp.accounts.jurisdiction import jurisdiction_of, scope
from gisapp.accounts.models import Department
from gisapp.apikit import LOGIN, Open, Params, responses
from gisapp.views import error_json
from layers.models import AdminUnit, Grid, GridWorker, ServiceStation

LEVELS = ("city", "district", "street", "community", "grid")
CODE = re.compile(r"^[0-9A-Za-z]{2,24}$")


router = Router(tags=["pages"], auth=LOGIN)  # the map pages' own reads; a few are public (auth=None)
AREA_PATTERN = r"^[0-9]{1,15}$"


class AreaQuery(Params):
    area: str | None = Field(
        None,
        pattern=AREA_PATTERN,
        description="an admin-unit or grid code inside your jurisdiction (default: all)",
    )


class Area(Open):
    code: str
    name: str
    level: str
    chain: list[dict]
    children: list[dict]
    bbox: list[float] | None
    populated_bbox: list[float] | None = Field(
        None, description="admin units: the middle 90 % of inhabited buildings, where a map should start"
    )
    geometry: dict | None


class FeatureCollection(Open):
    type: str
    features: list[dict]


class Indicators(Open):
    area: str


class Suggestion(Open):
    number: str
    level: str
    assignee_code: str
    department: dict | None
    principle: str


class Departments(Open):
    departments: list[dict]


class Categories(Open):
    categories: list[dict]


class NearbyQuery(Params):
    lon: float = Field(ge=-180, le=180, description="CGCS2000")
    lat: float = Field(ge=-90, le=90)
    limit: int = Field(5, ge=1, le=20)
    grid: str | None = Field(
        None, pattern=r"^[0-9A-Za-z]{2,24}$", description="the grid the page already knows"
    )


class Nearby(Open):
    lon: float
    lat: float
    grid: dict | None
    community: dict | None
    workers: list[dict]
    stations: list[dict]


def _outline(table: str, pk: int) -> tuple[dict | None, list[float] | None]:
    """The outline simplified to ~1/1500 of its extent (light enough for any screen) and its bbox."""
    with connection.cursor() as cur:
        cur.execute(
            f"""
            with g as (select geom, st_envelope(geom) as e from {table} where id = %s)
            select st_asgeojson(st_simplifypreservetopology(
                       geom, greatest(st_xmax(e) - st_xmin(e), st_ymax(e) - st_ymin(e)) / 1500.0), 6),
                   st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e)
            from g
            """,
            [pk],
        )
        row = cur.fetchone()
    if row is None or row[0] is None:
        return None, None
    import json

    return json.loads(row[0]), [round(v, 6) for v in row[1:]]


def _admin_prefix(unit: AdminUnit) -> str:
    """The code prefix every grid code inside `unit` starts with: a city's or province's code without
    its trailing zero pairs (230600 → 2306, 310000 → 31), lower levels' codes as they are."""
    code = unit.code
    while unit.level in ("province", "city") and code.endswith("00"):
        code = code[:-2]
    return code


@functools.lru_cache(maxsize=256)
def _populated_bbox(prefix: str, _bucket: int) -> list[float] | None:
    """The box holding the middle 90 % of the inhabited buildings under `prefix`: where a map of the
    area should start, without the empty fields and outlying villages of the whole outline.  Sorting a
    city's 2 M buildings takes seconds, so it is kept for ten minutes (`_bucket`) per process."""
    with connection.cursor() as cur:
        cur.execute(
            """select percentile_disc(0.05) within group (order by st_x(point)),
                      percentile_disc(0.05) within group (order by st_y(point)),
                      percentile_disc(0.95) within group (order by st_x(point)),
                      percentile_disc(0.95) within group (order by st_y(point))
               from layers_building where households > 0 and grid_code like %s""",
            [prefix + "%"],
        )
        row = cur.fetchone()
    if row is None or row[0] is None or row[0] == row[2] or row[1] == row[3]:
        return None
    return [round(v, 6) for v in row]


def populated_bbox(unit: AdminUnit) -> list[float] | None:
    return _populated_bbox(_admin_prefix(unit), int(time.monotonic() // 600))


def _unit_json(u: AdminUnit) -> dict:
    return {"code": u.code, "name": u.name, "level": u.level}


def _chain(unit: AdminUnit | None) -> list[dict]:
    chain = []
    while unit is not None:
        chain.append(_unit_json(unit))
        unit = unit.parent
    return list(reversed(chain))


def root_unit() -> AdminUnit | None:
    return AdminUnit.objects.filter(parent__isnull=True).order_by("code").first()


@router.get("areas/", auth=None, response=responses(Area, 404), summary="下钻 · the root admin unit")
def area_root(request: HttpRequest):
    return area(request, "root")


@router.get(
    "areas/{str:code}",
    auth=None,
    response=responses(Area, 404),
    summary="下钻 · an admin unit (6/9/12 digits) or a grid in force: chain, children, outline",
)
def area(request: HttpRequest, code: str):
    if code != "root" and not CODE.match(code):
        return error_json(400, "编码格式不正确", "malformed code")
    unit = (
        root_unit()
        if code == "root"
        else AdminUnit.objects.select_related("parent__parent__parent").filter(code=code).first()
    )
    if unit is not None:
        geometry, bbox = _outline("layers_adminunit", unit.pk)
        if unit.level == "community":
            grids = (
                Grid.objects.current()
                .filter(community=unit, net__follows_communities=True)
                .select_related("net")
                .order_by("code")
            )
            children = [
                {"code": g.code, "name": g.name, "level": "grid", "net": g.net.code, "kind": g.kind}
                for g in grids
            ]
        else:
            children = [_unit_json(c) for c in unit.children.order_by("code")]
        return {
            **_unit_json(unit),
            "chain": _chain(unit),
            "children": children,
            "bbox": bbox,
            "populated_bbox": populated_bbox(unit) or bbox,
            "geometry": geometry,
        }
    grid = (
        Grid.objects.current()
        .select_related("net", "community__parent__parent__parent", "district__parent")
        .filter(code=code)
        .first()
    )
    if grid is None:
        return error_json(404, "没有这个区划或网格", f"no admin unit or current grid with code {code}")
    geometry, bbox = _outline("layers_grid", grid.pk)
    parent = grid.community or grid.district
    return {
        "code": grid.code,
        "name": grid.name,
        "level": "grid",
        "net": grid.net.code,
        "net_name": grid.net.name,
        "kind": grid.kind,
        "target_households": grid.target_households,
        "chain": [*_chain(parent), {"code": grid.code, "name": grid.name, "level": "grid"}],
        "children": [],
        "bbox": bbox,
        "geometry": geometry,
    }


# ------------------------------------------------------------------------------------------ scoping
def effective_prefix(user, area_code: str, cases: bool = False) -> str | None:
    """The code prefix to aggregate over: the asked area clipped to the user's jurisdiction.

    None: nothing (the area lies outside the jurisdiction).  "": everything (whole jurisdiction of a
    city-wide user with no area asked).  Department staff have no area, only their department's cases:
    for case counts (`cases=True`, always filtered by `visible_cases` too) the asked area stands; for
    anything else they get nothing."""
    j = jurisdiction_of(user)
    if j.prefix is None:
        if cases and j.department_id is not None:
            from gisapp.accounts.jurisdiction import prefix_for_code

            return prefix_for_code(area_code) if area_code else ""
        return None
    from gisapp.accounts.jurisdiction import prefix_for_code

    asked = prefix_for_code(area_code) if area_code else ""
    if j.everything or asked.startswith(j.prefix):
        return asked
    if j.prefix.startswith(asked):
        return j.prefix
    return None


def _prefix_or_error(request: HttpRequest, area: str | None, cases: bool = True) -> str | JsonResponse:
    """The prefix to aggregate over for the asked `area` (AreaQuery checked its form), or the 403."""
    prefix = effective_prefix(request.user, area or "", cases=cases)
    if prefix is None:
        return error_json(403, "该区域不在您的辖区内", "the area is outside your jurisdiction")
    return prefix


def case_where(qs) -> tuple[str, list]:
    """The WHERE of a `cases_case` queryset as SQL on the bare table, for the aggregate queries below.

    `id in (select id …)` of the whole queryset cost a hash semi-join over every case (0.3-0.6 s on the
    city fixture's 150,000); the scoping conditions themselves (grid-code prefixes, department, reporter)
    are plain columns of cases_case, so they are inlined.  A queryset that needs a join falls back to the
    sub-select."""
    from django.core.exceptions import EmptyResultSet, FullResultSet

    query = qs.query
    used = [alias for alias, refs in query.alias_refcount.items() if refs]
    if query.model is not Case or len(used) > 1:
        ids_sql, params = qs.values("id").query.sql_with_params()
        return f"cases_case.id in ({ids_sql})", list(params)
    compiler = query.get_compiler(connection=connection)
    try:
        sql, params = query.where.as_sql(compiler, connection)
    except EmptyResultSet:
        return "false", []
    except FullResultSet:
        return "true", []
    return (sql or "true"), list(params)


# ------------------------------------------------------------------------------------------ open cases
@router.get(
    "cases.geojson",
    response=responses(FeatureCollection, 401),
    summary="在办案件 · open placed cases with their light (GeoJSON points)",
)
@decorate_view(gzip_page)
def cases_geojson(request: HttpRequest, q: Query[AreaQuery]):
    """Open, placed cases visible to the user, as GeoJSON points with light, severity and category.

    Properties are kept short (the city fixture has ~11,000 open cases: ~1.3 MB, ~200 KB gzipped); the
    big screen clusters them in the browser by light."""
    prefix = _prefix_or_error(request, q.area)
    if isinstance(prefix, JsonResponse):
        return prefix
    qs = visible_cases(request.user).exclude(status__in=FINAL_STATES).filter(geom__isnull=False)
    if prefix:
        qs = qs.filter(grid_code__startswith=prefix)
    where, params = case_where(qs)
    with connection.cursor() as cur:
        cur.execute(
            f"""
            select cases_case.id, number, status, severity, cat.code, cat.name, grid_code,
                   round(st_x(geom)::numeric, 6)::float8, round(st_y(geom)::numeric, 6)::float8,
                   case when deadline is null then 'green'
                        when now() > deadline then 'red'
                        when step_started_at is not null
                             and now() >= deadline - (deadline - step_started_at) * 0.25 then 'yellow'
                        else 'green' end
            from cases_case join cases_category cat on cat.id = cases_case.category_id
            where {where}
            """,
            params,
        )
        rows = cur.fetchall()
    features = [
        {
            "type": "Feature",
            "id": pk,
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": {
                "number": number,
                "status": status,
                "severity": severity,
                "category": cat_code,
                "category_name": cat_name,
                "grid_code": grid_code,
                "light": light,
            },
        }
        for pk, number, status, severity, cat_code, cat_name, grid_code, x, y, light in rows
    ]
    return {"type": "FeatureCollection", "features": features, "generated_at": timezone.now().isoformat()}


# ------------------------------------------------------------------------------------------ people
class _PerGridCache:
    """Counts per grid code for the whole city, recomputed at most every `ttl` seconds per process.

    The people & houses panel sums them over any area prefix at once, so drilling down costs nothing;
    computing them for the Daqing-scale fixture (3.9 M residents) takes ~2.5 s, which a 10-minute-old
    count of households and special groups can afford.  Only counts are kept, never a person."""

    def __init__(self, ttl: float = 600.0) -> None:
        self.ttl = ttl
        self.lock = threading.Lock()
        self.at = 0.0
        self.data: dict[str, dict[str, int]] = {}

    def get(self) -> dict[str, dict[str, int]]:
        with self.lock:
            if time.monotonic() - self.at > self.ttl or not self.data:
                self.data = self._compute()
                self.at = time.monotonic()
            return self.data

    def clear(self) -> None:
        with self.lock:
            self.at, self.data = 0.0, {}

    @staticmethod
    def _compute() -> dict[str, dict[str, int]]:
        per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        with connection.cursor() as cur:
            cur.execute(
                "select grid_code, count(*), coalesce(sum(households), 0), coalesce(sum(residents), 0) "
                "from layers_building group by grid_code"
            )
            for code, n, households, residents in cur.fetchall():
                per[code]["buildings"] += n
                per[code]["households"] += households
                per[code]["residents"] += residents
            cur.execute(
                "select b.grid_code, count(*) from layers_houseunit h "
                "join layers_building b on b.id = h.building_id group by b.grid_code"
            )
            for code, n in cur.fetchall():
                per[code]["house_units"] += n
            cur.execute(
                "select b.grid_code, t, count(*) from layers_resident r "
                "join layers_houseunit h on h.id = r.house_unit_id "
                "join layers_building b on b.id = h.building_id, unnest(r.tags) t "
                "where r.tags <> '{}' group by b.grid_code, t"
            )
            for code, tag, n in cur.fetchall():
                per[code][f"tag:{tag}"] += n
        return {code: dict(v) for code, v in per.items()}


PEOPLE = _PerGridCache()


@router.get(
    "indicators/people",
    response=responses(Indicators, 401),
    summary="人房指标 · counts of buildings, households, residents, special groups (no person listed)",
)
def indicators_people(request: HttpRequest, q: Query[AreaQuery]):
    """Buildings, house units, households, residents and special groups of an area: counts only."""
    prefix = _prefix_or_error(request, q.area, cases=False)
    if isinstance(prefix, JsonResponse):
        return prefix
    from layers.models import SpecialGroup

    totals: dict[str, int] = defaultdict(int)
    for code, counts in PEOPLE.get().items():
        if code.startswith(prefix):
            for key, n in counts.items():
                totals[key] += n
    groups = [
        {"tag": tag.value, "label": str(tag.label), "count": totals.get(f"tag:{tag.value}", 0)}
        for tag in SpecialGroup
    ]
    return {
        "area": prefix,
        "buildings": totals.get("buildings", 0),
        "house_units": totals.get("house_units", 0),
        "households": totals.get("households", 0),
        "residents": totals.get("residents", 0),
        "special_groups": groups,
        "note": {"zh": "仅统计数量，不列出任何个人", "en": "counts only; no person is listed"},
    }


# ------------------------------------------------------------------------------------------ events
def _local_midnight(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


@router.get(
    "indicators/events",
    response=responses(Indicators, 401),
    summary="事件指标 · cases today and this month, by category and light, rates, 30-day trend",
)
def indicators_events(request: HttpRequest, q: Query[AreaQuery]):
    """Cases today and this month, by category class and light, closure and on-time rates, 30-day trend.

    Rates use the evaluation's definitions (cases.stats): of this month's accepted cases, *due* once
    closed or past their due time; 结案率 = closed / due, 按期结案率 = closed by the due time / due."""
    prefix = _prefix_or_error(request, q.area)
    if isinstance(prefix, JsonResponse):
        return prefix
    now = timezone.now()
    today = _local_midnight(now)
    month = today.replace(day=1)
    trend_from = today - dt.timedelta(days=29)
    qs = visible_cases(request.user)
    if prefix:
        qs = qs.filter(grid_code__startswith=prefix)
    where, params = case_where(qs)
    open_states = "(" + ", ".join(f"'{v}'" for v in CaseStatus.values if v not in FINAL_STATES) + ")"
    with connection.cursor() as cur:
        cur.execute(
            f"""
            select
              count(*) filter (where reported_at >= %s),
              count(*),
              count(*) filter (where status not in ('rejected', 'merged')
                               and (closed_at is not null or (due_at is not null and due_at < now()))),
              count(*) filter (where status not in ('rejected', 'merged') and closed_at is not null),
              count(*) filter (where status not in ('rejected', 'merged')
                               and closed_at is not null and (due_at is null or closed_at <= due_at))
            from cases_case where ({where}) and reported_at >= %s
            """,
            [today, *params, month],
        )
        today_n, month_n, due, closed, on_time = cur.fetchone()
        # Open cases by their states (the status index), not by scanning every finished one.
        cur.execute(
            f"""
            select count(*), count(*) filter (where severity = 'emergency')
            from cases_case where ({where}) and status in {open_states}
            """,
            params,
        )
        open_n, emergencies = cur.fetchone()
        cur.execute(
            f"""
            select coalesce(p.code, cat.code), coalesce(p.name, cat.name), count(*)
            from cases_case join cases_category cat on cat.id = cases_case.category_id
            left join cases_category p on p.id = cat.parent_id
            where ({where}) and reported_at >= %s
            group by 1, 2 order by 3 desc
            """,
            [*params, month],
        )
        by_category = [{"code": code, "name": name, "count": n} for code, name, n in cur.fetchall()]
        cur.execute(
            f"""
            select case when deadline is null then 'green'
                        when now() > deadline then 'red'
                        when step_started_at is not null
                             and now() >= deadline - (deadline - step_started_at) * 0.25 then 'yellow'
                        else 'green' end, count(*)
            from cases_case where ({where}) and status in {open_states}
            group by 1
            """,
            params,
        )
        by_light = {"green": 0, "yellow": 0, "red": 0}
        by_light.update(dict(cur.fetchall()))
        tz = timezone.get_current_timezone_name()
        # One pass over the period's cases grouped by local day, not one count per day.
        cur.execute(
            f"""
            with c as (select reported_at, closed_at from cases_case
                       where ({where}) and (reported_at >= %s or closed_at >= %s)),
            r as (select (reported_at at time zone %s)::date as day, count(*) as n from c group by 1),
            k as (select (closed_at at time zone %s)::date as day, count(*) as n from c
                  where closed_at is not null group by 1)
            select d.day::date, coalesce(r.n, 0), coalesce(k.n, 0)
            from generate_series(%s::date, %s::date, '1 day') as d(day)
            left join r on r.day = d.day::date left join k on k.day = d.day::date
            order by 1
            """,
            [
                *params,
                trend_from,
                trend_from,
                tz,
                tz,
                timezone.localtime(trend_from).date(),
                timezone.localtime(today).date(),
            ],
        )
        trend = [{"day": day.isoformat(), "reported": r, "closed": c} for day, r, c in cur.fetchall()]
    return {
        "area": prefix,
        "today": today_n,
        "month": month_n,
        "open": open_n,
        "open_emergencies": emergencies,
        "month_due": due,
        "month_closed": closed,
        "closure_rate": round(closed / due, 4) if due else None,
        "on_time_rate": round(on_time / due, 4) if due else None,
        "by_category": by_category,
        "by_light": by_light,
        "trend": trend,
    }


# ------------------------------------------------------------------------------------------ operations
@router.get(
    "indicators/operations",
    response=responses(Indicators, 401),
    summary="运行指标 · grid workers, grids, stations, open and overdue cases, today's field work",
)
def indicators_operations(request: HttpRequest, q: Query[AreaQuery]):
    """Grid workers by role, grids and stations, open and overdue cases of the area, and today's field
    work: workers checked in, patrol tracks and their kilometres (field).  Rankings come from
    /api/cases/stats."""
    prefix = _prefix_or_error(request, q.area)
    if isinstance(prefix, JsonResponse):
        return prefix
    workers = scope(GridWorker.objects.all(), request.user)
    stations = ServiceStation.objects.all()
    grids = Grid.objects.current().filter(net__follows_communities=True)
    if prefix:
        workers = workers.filter(grid_code__startswith=prefix)
        stations = stations.filter(grid_code__startswith=prefix)
        grids = grids.filter(code__startswith=prefix)
    by_role = {role: 0 for role in GridWorker.Role.values}
    for role, n in _count_by(workers, "role"):
        by_role[role] = n
    open_cases = visible_cases(request.user).exclude(status__in=FINAL_STATES)
    if prefix:
        open_cases = open_cases.filter(grid_code__startswith=prefix)
    overdue = open_cases.filter(deadline__lt=timezone.now()).count()
    field = today_summary(request.user, prefix)
    return {
        "area": prefix,
        "grid_workers": sum(by_role.values()),
        "grid_workers_by_role": [
            {"role": r, "label": str(GridWorker.Role(r).label), "count": by_role[r]} for r in by_role
        ],
        "grids": grids.count(),
        "stations": stations.count(),
        "open_cases": open_cases.count(),
        "overdue": overdue,
        "needs_placement": visible_cases(request.user)
        .filter(needs_placement=True)
        .exclude(status__in=FINAL_STATES)
        .count(),
        **field,  # checked_in_today, patrols_today, patrol_km_today
        "note": {
            "zh": "今日打卡为当天打过卡的网格员人数；巡查为今日轨迹条数与总里程",
            "en": "checked in: workers who checked in today; patrols: today's tracks and total length",
        },
    }


def _count_by(qs, field: str) -> list[tuple[str, int]]:
    from django.db.models import Count

    return list(qs.values_list(field).annotate(n=Count("id")).order_by())


# ------------------------------------------------------------------------------------------ dispatch
@router.get(
    "cases/{str:number}/suggestion",
    response=responses(Suggestion, 401, 404),
    summary="派遣建议 · who should act on a case (the routing rule's answer)",
)
def suggestion(request: HttpRequest, number: str):
    """The routing rule's answer for a case (who should act), for the dispatch form to preselect."""
    from cases import routing

    case = (
        visible_cases(request.user)
        .select_related("category", "category__parent")
        .filter(number=number[:24])
        .first()
    )
    if case is None:
        return error_json(404, "案件不存在或无权查看", "no such case, or not yours to see")
    route, department = routing.suggest(case)
    return {
        "number": case.number,
        "level": route.acts_at,
        "assignee_code": route.assignee_code(case.grid_code) if route.acts_at != "department" else "",
        "department": {"code": department.code, "name": department.name} if department else None,
        "principle": route.principle,
        "note": route.note,
    }


@router.get("departments", response=responses(Departments, 401), summary="职能部门 · departments")
def departments(request: HttpRequest):
    rows = Department.objects.order_by("code").values("code", "name", "kind")
    return {"departments": list(rows)}


@router.get("categories", response=responses(Categories, 401), summary="案件类别 · the category dictionary")
def categories(request: HttpRequest):
    """The two-level dictionary (classes and their items) for the register form."""
    items = Category.objects.filter(parent__isnull=False).select_related("parent").order_by("code")
    return {
        "categories": [
            {
                "code": c.code,
                "name": c.name,
                "name_en": c.name_en,
                "class_code": c.parent.code,
                "class_name": c.parent.name,
                "class_name_en": c.parent.name_en,
            }
            for c in items
        ]
    }


# ------------------------------------------------------------------------------------------ public
DAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
HOURS_RE = re.compile(r"(\d{1,2})[:：](\d{2})\s*[-–—~至到]\s*(\d{1,2})[:：](\d{2})")
DAY_RANGE_RE = re.compile(r"周([一二三四五六日天])\s*[至到\-–~]\s*周?([一二三四五六日天])")


def open_now(hours: str, at: dt.datetime | None = None) -> bool | None:
    """Whether a station is open at `at` from its opening-hours text (全天 / 每日 8:00-20:00 /
    周一至周五 8:30-17:00 …); None when the text cannot be read (the page then shows the text only).
    Public holidays are not known here: the hours text is what the station publishes."""
    text = (hours or "").strip()
    if not text:
        return None
    local = timezone.localtime(at or timezone.now())
    days = set(range(7))
    m = DAY_RANGE_RE.search(text)
    if m:
        a, b = DAYS[m.group(1)], DAYS[m.group(2)]
        days = set(range(a, b + 1)) if a <= b else set(range(a, 7)) | set(range(0, b + 1))
    if local.weekday() not in days:
        return False
    if "全天" in text or "24小时" in text:
        return True
    t = HOURS_RE.search(text)
    if not t:
        return None
    start = dt.time(int(t.group(1)) % 24, int(t.group(2)))
    end_h = int(t.group(3))
    end = dt.time(23, 59, 59) if end_h >= 24 else dt.time(end_h, int(t.group(4)))
    return start <= local.time() <= end


public = Router(tags=["pages"], auth=None)  # mounted at /api/public/


@public.get(
    "nearby",
    response=responses(Nearby, 429),
    summary="我在哪 · grid, community, published grid-worker contacts and nearest stations (CGCS2000)",
)
def nearby(request: HttpRequest, q: Query[NearbyQuery]):
    """GET /api/public/nearby?lon=…&lat=…[&grid=…] (CGCS2000): my grid, community, published grid-worker
    contacts, and the nearest public stations with distance (metres) and whether they are open now.

    Public: only what the public layers already show, plus the name and work phone of grid workers who
    chose to publish them (`GridWorker.publish_contact`); nobody else's data.  Rate-limited per address
    for anonymous callers (gisapp.ratelimit)."""
    from gisapp import ratelimit

    refusal = ratelimit.refused(request, "public_lookup", anonymous_only=True)
    if refusal is not None:
        return refusal
    lon, lat, limit, grid_code = q.lon, q.lat, q.limit, q.grid or ""
    if not grid_code:
        from geocoding.geocoder import grids_at, pick_grids

        chosen, _nets = pick_grids(grids_at([(lon, lat)])[0])
        grid_code = chosen.code if chosen is not None else ""
    grid = (
        Grid.objects.current()
        .select_related("net", "community__parent__parent")
        .filter(code=grid_code)
        .first()
        if grid_code
        else None
    )
    with connection.cursor() as cur:
        cur.execute(
            """
            select id, name, kind, hours, phone, address, st_x(geom), st_y(geom),
                   st_distancesphere(geom, st_setsrid(st_makepoint(%s, %s), 4490))
            from layers_servicestation where is_public
            order by geom <-> st_setsrid(st_makepoint(%s, %s), 4490) limit %s
            """,
            [lon, lat, lon, lat, max(limit * 3, 10)],
        )
        rows = cur.fetchall()
    kinds = dict(ServiceStation.Kind.choices)
    stations = sorted(
        (
            {
                "id": pk,
                "name": name,
                "kind": kind,
                "kind_label": str(kinds.get(kind, kind)),
                "hours": hours,
                "phone": phone,
                "address": address,
                "lon": round(x, 6),
                "lat": round(y, 6),
                "distance_m": round(d),
                "open_now": open_now(hours),
            }
            for pk, name, kind, hours, phone, address, x, y, d in rows
        ),
        key=lambda s: s["distance_m"],
    )[:limit]
    body: dict = {
        "lon": lon,
        "lat": lat,
        "grid": None,
        "community": None,
        "workers": [],
        "stations": stations,
    }
    if grid is not None:
        body["grid"] = {
            "code": grid.code,
            "name": grid.name,
            "net": grid.net.code,
            "net_name": grid.net.name,
            "net_name_en": grid.net.name_en,
        }
        if grid.community_id:
            c = grid.community
            body["community"] = {"code": c.code, "name": c.name}
            if c.parent_id:
                body["street"] = {"code": c.parent.code, "name": c.parent.name}
        workers = GridWorker.objects.filter(grid_code=grid.code, publish_contact=True).order_by("role", "id")
        roles = dict(GridWorker.Role.choices)
        body["workers"] = [
            {"name": w.name, "role": w.role, "role_label": str(roles.get(w.role, w.role)), "phone": w.phone}
            for w in workers
        ]
    return body
