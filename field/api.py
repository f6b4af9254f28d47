"""The field page's API, /api/field/… (a ninja router; the rules are field.services).

Login, parsing and the error shape are the project's API layer (gisapp.apikit), so the field API and
the case API refuse the same way.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Header, Query, Router, Status
from pydantic import ConfigDict, Field

from cases.placement import to_cgcs2000
from cases.schemas import Location
from cases.serialize import case_json
from gisapp.apikit import LOGIN, Body, Open, Params, login_where, max_body, responses

from . import services as svc

router = Router(tags=["field"], auth=LOGIN)
WORKER = login_where(svc.worker_of)  # a grid worker's own operations: 403 for anyone else, before parsing

KEY = Header(
    alias="Idempotency-Key",
    min_length=8,
    max_length=100,
    description="made by the phone once per check-in / per batch of points; a resend stores nothing twice",
)
AREA = Field(None, pattern=r"^[0-9]{1,15}$", description="an admin-unit or grid code")
TIME = "ISO 8601, or epoch milliseconds"


class NearQuery(Params):
    lon: float | None = None
    lat: float | None = None
    crs: str | None = None


class DayQuery(Params):
    date: str | None = Field(None, description="YYYY-MM-DD (default: today)")
    area: str | None = AREA


class AreaQuery(Params):
    area: str | None = AREA


class CheckInCreate(Body):
    model_config = ConfigDict(extra="forbid", strict=True)
    location: Location
    accuracy: float | None = Field(None, ge=0, le=100_000, description="metres")
    note: str | None = Field(None, max_length=svc.MAX_NOTE)
    device_time: str | float | None = Field(None, description=f"when the phone took it ({TIME}, last 7 days)")
    grid_code: str | None = Field(None, description="optional; must be one of the worker's grids")


class CheckIn(Open):
    id: int
    at: str
    device_time: str | None
    lon: float
    lat: float
    crs: str
    accuracy_m: float | None
    grid_code: str
    inside: bool = Field(description="false: just outside the grid, within accuracy")


class TrackPoint(Body):
    lon: float | str
    lat: float | str
    t: str | float = Field(description=f"when the phone took the point ({TIME})")
    accuracy: float | None = Field(None, ge=0, le=100_000)
    crs: str | None = None


class PatrolBatch(Body):
    model_config = ConfigDict(extra="forbid", strict=True)
    crs: str | None = Field(None, description="of every point (EPSG:4326, EPSG:4490, GCJ02, BD09 …)")
    points: list[TrackPoint] = Field(min_length=1, max_length=svc.MAX_POINTS)


class FieldHome(Open):
    worker: dict
    grids: list
    bbox: list[float] | None
    cases: list[dict]
    today: dict


class CheckInDay(Open):
    day: str
    results: list[CheckIn]


class Tracks(Open):
    type: str
    features: list[dict]
    day: str


def _field_case(case, user) -> dict:
    from cases.services import relations
    from cases.workflow import available

    out = case_json(case, user)
    distance = getattr(case, "distance", None)
    out["distance_m"] = round(distance.m, 1) if distance is not None else None
    rel = relations(user, case)
    out["relations"] = sorted(rel)
    out["transitions"] = [t.name for t in available(case.status, rel)]
    return out


@router.get(
    "me",
    response=responses(FieldHome, 401, 403),
    summary="网格员首页 · the worker, their grids, open cases nearest first, today's check-ins and patrol",
)
def me(request: HttpRequest, q: Query[NearQuery]):
    worker = svc.worker_of(request.user)
    near = None
    if q.lon is not None or q.lat is not None:
        near = to_cgcs2000({"lon": q.lon, "lat": q.lat, "crs": q.crs or "EPSG:4490"})
    grids = svc.worker_grids(worker)
    day, _start, _end = svc.local_day_bounds()
    checkins = svc.visible_checkins(request.user, day).filter(worker=worker).order_by("at")
    patrol = svc.visible_patrols(request.user, day).filter(worker=worker).first()
    return {
        "worker": {
            "id": worker.pk,
            "name": worker.name,
            "role": worker.role,
            "role_label": str(worker.get_role_display()),
            "grid_code": worker.grid_code,
        },
        "grids": grids,
        "bbox": svc.union_bbox(grids),
        "cases": [_field_case(c, request.user) for c in svc.field_cases(request.user, worker, near)],
        "today": {
            "day": day.isoformat(),
            "checkins": [svc.checkin_json(c) for c in checkins],
            "patrol": svc.patrol_json(patrol) if patrol else None,
        },
    }


@router.post(
    "checkins",
    auth=WORKER,
    response=responses(CheckIn, 401, 403, 413, 422, status=201, also={200: CheckIn}),
    summary="考勤打卡 · check in with the phone's location (200: the check-in this key already made)",
)
@max_body(16 * 1024)
def check_in(request: HttpRequest, body: CheckInCreate, key: str = KEY):
    worker = svc.worker_of(request.user)
    done = svc.record_checkin(worker, request.user, body.model_dump(exclude_unset=True), key)
    return Status(201 if done.created else 200, svc.checkin_json(done.checkin))


@router.get(
    "checkins",
    response=responses(CheckInDay, 401),
    summary="考勤打卡记录 · a day's check-ins (a worker's own; others' in your jurisdiction, names masked)",
)
def checkins(request: HttpRequest, q: Query[DayQuery]):
    day = svc.parse_day(q.date)
    area = svc.parse_area(q.area)
    rows = svc.visible_checkins(request.user, day, area).order_by("at")[:2000]
    names = not svc.sees_only_self(request.user)
    return {"day": day.isoformat(), "results": [svc.checkin_json(c, names=names) for c in rows]}


@router.post(
    "patrols/points",
    auth=WORKER,
    response=responses(Open, 401, 403, 413, 422, status=201, also={200: Open}),
    summary="巡查轨迹上传 · append a batch of sampled track points to the day's patrol (200: already stored)",
)
@max_body(256 * 1024)
def patrol_points(request: HttpRequest, body: PatrolBatch, key: str = KEY):
    worker = svc.worker_of(request.user)
    answer, created = svc.append_points(worker, body.model_dump(exclude_unset=True), key)
    return Status(201 if created else 200, answer)


@router.get(
    "patrols/today",
    response=responses(Tracks, 401),
    summary="今日巡查轨迹 · today's tracks as GeoJSON lines (a worker's own; your jurisdiction's)",
)
def patrols_today(request: HttpRequest, q: Query[AreaQuery]):
    area = svc.parse_area(q.area)
    day, _start, _end = svc.local_day_bounds()
    patrols = list(svc.visible_patrols(request.user, day, area).filter(point_count__gt=0)[:5000])
    body = svc.tracks_geojson(patrols, request.user)
    body["day"] = day.isoformat()
    return body
