"""The rules behind the field page: which worker a user is, which grid a check-in counts for, how a batch
of patrol points is appended exactly once, and today's totals for the big screen.

Locations come as the case API takes them (`{"lon", "lat", "crs"}`, GCJ02/BD09 included) and go through
the same conversion and the same "outside the city (axes swapped?)" refusal (cases.placement), so a
check-in, a patrol point and a report of the same phone fix land on the same spot.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from cases.errors import CaseError
from cases.placement import locate, to_cgcs2000
from gisapp.accounts.jurisdiction import scope
from gisapp.accounts.models import Role
from layers.models import CheckIn, Grid, GridWorker, Patrol, PatrolPoint

MAX_POINTS = 500  # per batch: 4 hours at one point every 30 s
MAX_NOTE = 200
KEY_MAX = 100
# A fix is accepted this far outside the worker's own grid (GPS error on its edge), scaled by the
# accuracy the phone reports, within these bounds.
CHECKIN_TOLERANCE_M = (30.0, 200.0)
# Points queued on a phone may arrive days late, never from the future (clock skew allowed).
MAX_AGE = dt.timedelta(days=7)
MAX_SKEW = dt.timedelta(minutes=10)
# Patrol points farther than this outside the city's extent are refused (a wrong CRS, swapped axes).
CITY_MARGIN_DEG = 0.02  # ~2 km


# ------------------------------------------------------------------------------------------ who
def worker_of(user) -> GridWorker:
    """The grid worker record of a logged-in user, or 403: the field page is for grid workers."""
    worker = GridWorker.objects.filter(user=user).first() if user.is_authenticated else None
    if worker is None:
        raise CaseError(
            403, "仅网格员可用：该账号没有网格员档案", "for grid workers only: no grid-worker record"
        )
    return worker


def worker_grid_codes(worker: GridWorker) -> list[str]:
    return [worker.grid_code] if worker.grid_code else []


def worker_grids(worker: GridWorker) -> list[dict]:
    """The worker's current grid(s) with outline and bbox (CGCS2000), for the page's map."""
    codes = worker_grid_codes(worker)
    grids = list(
        Grid.objects.current()
        .filter(code__in=codes, net__follows_communities=True)
        .select_related("net", "community")
        .order_by("code")
    )
    if not grids:
        return []
    import json

    with connection.cursor() as cur:
        cur.execute(
            """
            select id, st_asgeojson(geom, 6), st_xmin(geom), st_ymin(geom), st_xmax(geom), st_ymax(geom)
            from layers_grid where id = any(%s)
            """,
            [[g.pk for g in grids]],
        )
        shapes = {pk: (json.loads(gj), [round(v, 6) for v in box]) for pk, gj, *box in cur.fetchall()}
    return [
        {
            "code": g.code,
            "name": g.name,
            "net": g.net.code,
            "net_name": g.net.name,
            "community": {"code": g.community.code, "name": g.community.name} if g.community_id else None,
            "bbox": shapes[g.pk][1],
            "geometry": shapes[g.pk][0],
        }
        for g in grids
    ]


def union_bbox(grids: list[dict]) -> list[float] | None:
    if not grids:
        return None
    boxes = [g["bbox"] for g in grids]
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def sees_only_self(user) -> bool:
    """Grid workers see their own check-ins and tracks only, not their grid colleagues'."""
    profile = getattr(user, "profile", None)
    return profile is not None and profile.role == Role.GRID_WORKER


# ------------------------------------------------------------------------------------------ input
def idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key")
    if not key or not 8 <= len(key) <= KEY_MAX or not key.isprintable():
        raise CaseError(
            400,
            "需要 Idempotency-Key 请求头（8–100 个字符，每次打卡或每批轨迹点一个）",
            "an Idempotency-Key header of 8–100 characters is required (one per check-in or batch of points)",
        )
    return key


def parse_time(value, name: str, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO 8601 time or epoch milliseconds, not from the future and not older than MAX_AGE."""
    now = now or timezone.now()
    if isinstance(value, bool):
        value = None
    if isinstance(value, (int, float)) and math.isfinite(value):
        try:
            when = dt.datetime.fromtimestamp(value / 1000.0, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            when = None
    elif isinstance(value, str) and len(value) <= 40:
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            when = None
        if when is not None and timezone.is_naive(when):
            when = timezone.make_aware(when)
    else:
        when = None
    if when is None:
        raise CaseError(
            400, f"{name} 不是有效的时间", f"{name} must be an ISO 8601 time or epoch milliseconds"
        )
    if when > now + MAX_SKEW or when < now - MAX_AGE:
        raise CaseError(
            400, f"{name} 超出允许范围（7 天内，不能晚于现在）", f"{name} must be within the last 7 days"
        )
    return when


def parse_accuracy(value, name: str = "accuracy") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100_000:
        raise CaseError(
            400, f"{name} 应为 0–100000 之间的米数", f"{name} must be metres between 0 and 100000"
        )
    return float(value)


def local_day_bounds(day: dt.date | None = None) -> tuple[dt.date, dt.datetime, dt.datetime]:
    day = day or timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return day, start, start + dt.timedelta(days=1)


def parse_day(value: str | None) -> dt.date:
    """A query's `date` (today when absent; present but empty or malformed is refused)."""
    if value is None:
        return timezone.localdate()
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CaseError(400, "date 应为 YYYY-MM-DD", "date must be YYYY-MM-DD") from None


def parse_area(value: str | None) -> str:
    """A query's `area` code prefix ("" when absent: the whole jurisdiction)."""
    if value is None:
        return ""
    if not value.isascii() or not value.isdigit() or len(value) > 15:
        raise CaseError(400, "area 应为行政区划或网格编码", "area must be an admin-unit or grid code")
    return value


# ------------------------------------------------------------------------------------------ check-ins
def _distance_to_grids_m(point: Point, codes: list[str]) -> float | None:
    grids = Grid.objects.current().filter(code__in=codes, net__follows_communities=True)
    ids = list(grids.values_list("id", flat=True))
    if not ids:
        return None
    with connection.cursor() as cur:
        cur.execute(
            "select min(st_distance(geom::geography, st_setsrid(st_makepoint(%s, %s), 4490)::geography))"
            " from layers_grid where id = any(%s)",
            [point.x, point.y, ids],
        )
        return cur.fetchone()[0]


@dataclass
class Recorded:
    checkin: CheckIn
    created: bool


def record_checkin(worker: GridWorker, user, data: dict, key: str) -> Recorded:
    """Store a check-in once per key; it counts for one of the worker's own grids or is refused.

    The grid is found spatially (the reverse geocoder's boundary rule).  A fix just outside the own grid
    — within the phone's stated accuracy, 30–200 m — still counts for it (`inside` false); a fix in
    someone else's grid is 403, and one outside the city is the case API's 422 with the swapped-axes hint.
    """
    existing = CheckIn.objects.filter(worker=worker, client_key=key).first()
    if existing is not None:
        return Recorded(existing, False)
    unknown = set(data) - {"location", "accuracy", "note", "device_time", "grid_code"}
    if unknown:
        raise CaseError(
            400, f"未知字段：{', '.join(sorted(unknown))}", f"unknown fields: {', '.join(sorted(unknown))}"
        )
    if "location" not in data:
        raise CaseError(400, "需要位置 location {lon, lat, crs}", "location {lon, lat, crs} is required")
    accuracy = parse_accuracy(data.get("accuracy"))
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise CaseError(
            400, f"备注应为不超过 {MAX_NOTE} 字的文本", f"note must be text of at most {MAX_NOTE} characters"
        )
    device_time = (
        parse_time(data["device_time"], "device_time") if data.get("device_time") is not None else None
    )
    own = worker_grid_codes(worker)
    asked = data.get("grid_code")
    if asked is not None and asked not in own:
        raise CaseError(403, "只能在自己负责的网格打卡", "you can only check in for your own grid")
    point = to_cgcs2000(data["location"])
    place = locate(point)  # 422 with the swapped-axes hint outside the city
    hit = next((code for code in [place.grid_code, *place.grids.values()] if code in own), None)
    inside = hit is not None
    if hit is None:
        distance = _distance_to_grids_m(point, own)
        low, high = CHECKIN_TOLERANCE_M
        tolerance = min(max(accuracy or low, low), high)
        if distance is None or distance > tolerance:
            away = f"{distance:.0f}" if distance is not None else "?"
            raise CaseError(
                403,
                f"打卡位置不在您负责的网格内（距网格约 {away} 米）",
                f"the location is not in your grid (about {away} m away)",
                grid_code=place.grid_code or None,
            )
        hit = own[0]
    crs = (data["location"].get("crs") or "EPSG:4490") if isinstance(data["location"], dict) else ""
    try:
        with transaction.atomic():
            checkin = CheckIn.objects.create(
                worker=worker,
                user=user,
                device_time=device_time,
                geom=point,
                accuracy_m=accuracy,
                crs=str(crs)[:16],
                grid_code=hit,
                inside=inside,
                note=note.strip(),
                client_key=key,
            )
    except IntegrityError:  # the same key raced in twice: the first one won
        existing = CheckIn.objects.filter(worker=worker, client_key=key).first()
        if existing is None:
            raise
        return Recorded(existing, False)
    return Recorded(checkin, True)


def checkin_json(c: CheckIn, names: bool = False) -> dict:
    from layers.masking import mask_name

    out = {
        "id": c.pk,
        "at": c.at.isoformat(),
        "device_time": c.device_time.isoformat() if c.device_time else None,
        "lon": round(c.geom.x, 7),
        "lat": round(c.geom.y, 7),
        "crs": "EPSG:4490",
        "accuracy_m": c.accuracy_m,
        "grid_code": c.grid_code,
        "inside": c.inside,
        "note": c.note,
    }
    if names:
        out["worker"] = {"name": mask_name(c.worker.name), "role": c.worker.role}
    return out


# ------------------------------------------------------------------------------------------ patrols
class _CityExtent:
    """The bbox of every grid (the city), refreshed every 10 minutes per process."""

    TTL = 600.0

    def __init__(self) -> None:
        self._at = 0.0
        self._box: tuple[float, float, float, float] | None = None
        self._lock = threading.Lock()

    def get(self) -> tuple[float, float, float, float] | None:
        with self._lock:
            if self._box is None or time.monotonic() - self._at > self.TTL:
                with connection.cursor() as cur:
                    cur.execute(
                        "select st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e) from "
                        "(select st_extent(geom) as e from layers_grid) s"
                    )
                    row = cur.fetchone()
                self._box = tuple(row) if row and row[0] is not None else None
                self._at = time.monotonic()
            return self._box


CITY = _CityExtent()


def _near_city(x: float, y: float) -> bool:
    box = CITY.get()
    if box is None:
        return True
    m = CITY_MARGIN_DEG
    return box[0] - m <= x <= box[2] + m and box[1] - m <= y <= box[3] + m


def _outside(i: int, point: Point) -> CaseError:
    from geocoding.crs import parse_crs
    from geocoding.reverse import swap_hint

    return CaseError(
        422,
        f"第 {i + 1} 个点不在本市范围内（经纬度是否颠倒？）",
        f"point {i} is outside the city (are longitude and latitude swapped?)",
        hint="swapped_axes" if swap_hint(point.y, point.x, parse_crs(None)) else None,
        index=i,
    )


def append_points(worker: GridWorker, data: dict, key: str) -> tuple[dict, bool]:
    """Append one batch of track points to the worker's patrols (one per local day), once per key.

    Body: {"crs": "EPSG:4326", "points": [{"lon", "lat", "t", "accuracy"}, …]}; `t` is when the phone
    took the point (ISO 8601 or epoch ms).  The whole batch is checked before anything is written."""
    unknown = set(data) - {"crs", "points"}
    if unknown:
        raise CaseError(
            400, f"未知字段：{', '.join(sorted(unknown))}", f"unknown fields: {', '.join(sorted(unknown))}"
        )
    points = data.get("points")
    if not isinstance(points, list) or not 1 <= len(points) <= MAX_POINTS:
        raise CaseError(
            400, f"points 应为 1–{MAX_POINTS} 个点的数组", f"points must be an array of 1–{MAX_POINTS} points"
        )
    crs = data.get("crs") or "EPSG:4490"
    now = timezone.now()
    rows: list[tuple[dt.datetime, Point, float | None]] = []
    for i, p in enumerate(points):
        if not isinstance(p, dict):
            raise CaseError(400, f"第 {i + 1} 个点应为对象", f"points[{i}] must be an object")
        try:
            point = to_cgcs2000({"lon": p.get("lon"), "lat": p.get("lat"), "crs": p.get("crs") or crs})
            when = parse_time(p.get("t"), f"points[{i}].t", now)
            accuracy = parse_accuracy(p.get("accuracy"), f"points[{i}].accuracy")
        except CaseError as exc:
            raise CaseError(
                exc.status,
                f"第 {i + 1} 个点：{exc.zh}",
                f"points[{i}]: {exc.en}",
                **{**exc.extra, "index": i},
            ) from None
        if not _near_city(point.x, point.y):
            raise _outside(i, point)
        rows.append((when, point, accuracy))
    if PatrolPoint.objects.filter(patrol__worker=worker, batch_key=key).exists():
        return _batch_answer(worker, key, duplicate=True), False
    with transaction.atomic():
        patrols: dict[dt.date, Patrol] = {}
        for when, _p, _a in rows:
            day = timezone.localdate(when)
            if day not in patrols:
                patrols[day], _ = Patrol.objects.get_or_create(
                    worker=worker, day=day, defaults={"grid_code": worker.grid_code}
                )
        PatrolPoint.objects.bulk_create(
            [
                PatrolPoint(
                    patrol=patrols[timezone.localdate(when)],
                    at=when,
                    geom=point,
                    accuracy_m=accuracy,
                    batch_key=key,
                    seq=i,
                )
                for i, (when, point, accuracy) in enumerate(rows)
            ],
            ignore_conflicts=True,  # a concurrent resend of the same batch: its rows are already there
        )
        Patrol.refresh([p.pk for p in patrols.values()])
    return _batch_answer(worker, key, duplicate=False), True


def _batch_answer(worker: GridWorker, key: str, duplicate: bool) -> dict:
    ids = PatrolPoint.objects.filter(patrol__worker=worker, batch_key=key).values_list("patrol_id", flat=True)
    patrols = Patrol.objects.filter(pk__in=set(ids)).order_by("day")
    return {
        "batch": key,
        "duplicate": duplicate,
        "received": PatrolPoint.objects.filter(patrol__worker=worker, batch_key=key).count(),
        "patrols": [patrol_json(p) for p in patrols],
    }


def patrol_json(p: Patrol) -> dict:
    return {
        "id": p.pk,
        "day": p.day.isoformat(),
        "grid_code": p.grid_code,
        "point_count": p.point_count,
        "length_m": round(p.length_m, 1),
        "started_at": p.started_at.isoformat() if p.started_at else None,
        "ended_at": p.ended_at.isoformat() if p.ended_at else None,
    }


def visible_patrols(user, day: dt.date, area: str = "") -> QuerySet:
    """The day's patrols `user` may see: a grid worker their own, everyone else their jurisdiction's."""
    qs = Patrol.objects.filter(day=day).select_related("worker")
    if sees_only_self(user):
        return qs.filter(worker__user=user)
    qs = scope(qs, user)
    return qs.filter(grid_code__startswith=area) if area else qs


def visible_checkins(user, day: dt.date, area: str = "") -> QuerySet:
    _day, start, end = local_day_bounds(day)
    qs = CheckIn.objects.filter(at__gte=start, at__lt=end).select_related("worker")
    if sees_only_self(user):
        return qs.filter(worker__user=user)
    qs = scope(qs, user)
    return qs.filter(grid_code__startswith=area) if area else qs


def tracks_geojson(patrols: list[Patrol], user) -> dict:
    """A FeatureCollection of the patrols' lines (those with two precise points), with totals."""
    from layers.masking import mask_name

    lines = Patrol.lines([p.pk for p in patrols])
    features = []
    for p in patrols:
        own = p.worker.user_id == user.pk
        features.append(
            {
                "type": "Feature",
                "id": p.pk,
                "geometry": lines.get(p.pk),
                "properties": {
                    **patrol_json(p),
                    "worker": p.worker.name if own else mask_name(p.worker.name),
                    "role": p.worker.role,
                    "own": own,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "tracks": len(patrols),
        "length_m": round(sum(p.length_m for p in patrols), 1),
        "crs": "EPSG:4490",
    }


def today_summary(user, prefix: str) -> dict:
    """For the big screen's operations panel: workers checked in today, today's tracks and kilometres."""
    day, start, end = local_day_bounds()
    checkins = scope(CheckIn.objects.filter(at__gte=start, at__lt=end), user)
    patrols = scope(Patrol.objects.filter(day=day, point_count__gt=0), user)
    if prefix:
        checkins = checkins.filter(grid_code__startswith=prefix)
        patrols = patrols.filter(grid_code__startswith=prefix)
    totals = patrols.aggregate(n=Count("id"), m=Sum("length_m"))
    return {
        "checked_in_today": checkins.aggregate(n=Count("worker_id", distinct=True))["n"],
        "patrols_today": totals["n"],
        "patrol_km_today": round((totals["m"] or 0) / 1000.0, 2),
    }


def field_cases(user, worker: GridWorker, near: Point | None, limit: int = 100) -> list:
    """Open cases in or assigned to the worker's grids, and the worker's own open reports: nearest first
    from `near` (CGCS2000), else by deadline."""
    from django.contrib.gis.db.models.functions import Distance

    from cases.models.case import FINAL_STATES, Level
    from cases.services import visible_cases

    codes = worker_grid_codes(worker)
    qs = (
        visible_cases(user)
        .exclude(status__in=FINAL_STATES)
        .filter(
            Q(grid_code__in=codes) | Q(assignee_level=Level.GRID, assignee_code__in=codes) | Q(reporter=user)
        )
        .select_related("category", "department", "duplicate_of")
    )
    if near is not None:
        qs = qs.annotate(distance=Distance("geom", near)).order_by("distance", "deadline", "id")
    else:
        qs = qs.order_by("deadline", "id")
    return list(qs[:limit])
