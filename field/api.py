"""HTTP views of the field page's API, /api/field/… (documented in layers/openapi.py).

Login and the JSON error shape come from the case API's `api_view` (every refusal is a CaseError with
a reason in Chinese and English), so both APIs refuse the same way.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from cases.api import api_view, json_body
from cases.errors import CaseError
from cases.placement import to_cgcs2000
from cases.serialize import case_json

from . import services as svc


def _ok(data, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def _only(request: HttpRequest, allowed: set[str]) -> None:
    unknown = set(request.GET) - allowed
    if unknown:
        names = ", ".join(sorted(unknown))
        raise CaseError(400, f"未知参数：{names}", f"unknown parameters: {names}")


def _near(request: HttpRequest):
    g = request.GET
    if "lon" not in g and "lat" not in g:
        return None
    return to_cgcs2000({"lon": g.get("lon"), "lat": g.get("lat"), "crs": g.get("crs") or "EPSG:4490"})


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


@api_view(["GET"])
def me(request: HttpRequest) -> JsonResponse:
    """GET /api/field/me[?lon&lat&crs]: the worker, their grid(s), open cases nearest first, today."""
    _only(request, {"lon", "lat", "crs"})
    worker = svc.worker_of(request.user)
    near = _near(request)
    grids = svc.worker_grids(worker)
    day, _start, _end = svc.local_day_bounds()
    checkins = svc.visible_checkins(request.user, day).filter(worker=worker).order_by("at")
    patrol = svc.visible_patrols(request.user, day).filter(worker=worker).first()
    return _ok(
        {
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
    )


@api_view(["GET", "POST"])
def checkins(request: HttpRequest) -> JsonResponse:
    """POST: check in (Idempotency-Key); GET ?date&area: the day's check-ins the user may see."""
    if request.method == "POST":
        worker = svc.worker_of(request.user)
        key = svc.idempotency_key(request)
        done = svc.record_checkin(worker, request.user, json_body(request, 16 * 1024), key)
        return _ok(svc.checkin_json(done.checkin), status=201 if done.created else 200)
    _only(request, {"date", "area"})
    day = svc.parse_day(request.GET.get("date"))
    area = svc.parse_area(request.GET.get("area"))
    rows = svc.visible_checkins(request.user, day, area).order_by("at")[:2000]
    names = not svc.sees_only_self(request.user)
    return _ok({"day": day.isoformat(), "results": [svc.checkin_json(c, names=names) for c in rows]})


@api_view(["POST"])
def patrol_points(request: HttpRequest) -> JsonResponse:
    """POST /api/field/patrols/points: one batch of sampled track points (Idempotency-Key per batch)."""
    worker = svc.worker_of(request.user)
    key = svc.idempotency_key(request)
    answer, created = svc.append_points(worker, json_body(request, 256 * 1024), key)
    return _ok(answer, status=201 if created else 200)


@api_view(["GET"])
def patrols_today(request: HttpRequest) -> JsonResponse:
    """GET /api/field/patrols/today[?area]: today's tracks as GeoJSON lines — a grid worker's own, or
    those of the user's jurisdiction (the big screen's layer), with the count and total length."""
    _only(request, {"area"})
    area = svc.parse_area(request.GET.get("area"))
    day, _start, _end = svc.local_day_bounds()
    patrols = list(svc.visible_patrols(request.user, day, area).filter(point_count__gt=0)[:5000])
    body = svc.tracks_geojson(patrols, request.user)
    body["day"] = day.isoformat()
    return _ok(body)
