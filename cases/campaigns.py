"""Special campaigns (创安一号…六号): a checklist pushed to every grid of an area, each grid's progress.

A dispatcher or leader launches a campaign over an area inside their jurisdiction; one progress row per
current comprehensive grid is created at once, so "which grids have not started" is a plain query; grid
workers tick items for their own grid; the map reads the progress as GeoJSON.
"""

from __future__ import annotations

import json

from django.contrib.gis.db.models.functions import AsGeoJSON
from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router, Status
from pydantic import Field

from gisapp.accounts.jurisdiction import covers, jurisdiction_of, scope
from gisapp.apikit import LOGIN, Body, Open, Params, idempotent, login_where, responses
from layers.models import Grid

from .errors import CaseError
from .models import Campaign, CampaignProgress
from .params import parse_time

LAUNCHERS = ("dispatcher", "leader", "admin")
TICKERS = ("grid_worker", "dispatcher", "admin")  # leaders and planners watch progress, they do not tick

router = Router(tags=["cases"], auth=LOGIN)


def _launcher(user) -> None:
    j = jurisdiction_of(user)
    if j.role not in LAUNCHERS and not j.everything:
        raise CaseError(
            403, "只有指挥中心或领导可以发起专项行动", "only dispatchers and leaders launch campaigns"
        )


class CampaignCreate(Body):
    name: str = Field(description="1–64 characters")
    area_code: str | int = Field(description="an admin-unit or grid code inside your jurisdiction")
    checklist: list[str] = Field(description="1–50 items of at most 200 characters")
    description: str | None = None
    ends_at: str | None = Field(None, description="ISO 8601")


class CampaignOut(Open):
    id: int
    name: str
    area_code: str
    checklist: list[str]
    grids: int
    progress: float


class CampaignDetail(CampaignOut):
    by_grid: dict[str, list[int]]


class Campaigns(Open):
    results: list[CampaignOut]


class Tick(Body):
    grid_code: str | int
    done: list[int] = Field(description="indexes of the checklist items done")


class MapQuery(Params):
    limit: int = Field(20000, ge=1, le=20000)


class ProgressMap(Open):
    type: str
    features: list[dict]


def _campaign_json(c: Campaign, with_grids: bool = False, user=None) -> dict:
    """The campaign's totals; `with_grids` adds each grid's ticks, only of the grids inside `user`'s
    jurisdiction (a street dispatcher sees their street's progress in a district-wide campaign)."""
    rows = list(c.progress.values("grid_code", "done"))
    total = len(c.checklist) * len(rows)
    done = sum(len(r["done"]) for r in rows)
    out = {
        "id": c.pk,
        "name": c.name,
        "description": c.description,
        "area_code": c.area_code,
        "checklist": c.checklist,
        "starts_at": c.starts_at.isoformat(),
        "ends_at": c.ends_at.isoformat() if c.ends_at else None,
        "grids": len(rows),
        "grids_done": sum(1 for r in rows if len(r["done"]) == len(c.checklist)),
        "grids_not_started": sum(1 for r in rows if not r["done"]),
        "progress": round(done / total, 4) if total else 0,
    }
    if with_grids:
        out["by_grid"] = {r["grid_code"]: sorted(r["done"]) for r in rows if covers(user, r["grid_code"])}
    return out


@router.get("", response=responses(Campaigns, 401), summary="专项行动 · the campaigns of your jurisdiction")
def campaigns(request: HttpRequest):
    # Campaigns over an area inside the jurisdiction, and those pushed to grids inside it.
    qs = scope(Campaign.objects.all(), request.user) | Campaign.objects.filter(
        pk__in=scope(CampaignProgress.objects.all(), request.user).values("campaign_id")
    )
    return {"results": [_campaign_json(c) for c in qs.distinct().order_by("-starts_at")[:200]]}


@router.post(
    "",
    auth=login_where(_launcher),
    response=responses(CampaignOut, 401, 413, status=201),
    summary="发起专项行动 · launch a campaign: its checklist pushed to every grid of the area",
)
@idempotent("campaign")
def launch(request: HttpRequest, body: CampaignCreate):
    j = jurisdiction_of(request.user)
    data = body.model_dump(exclude_unset=True)
    name, area, checklist = data.get("name"), str(data.get("area_code") or ""), data.get("checklist")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise CaseError(400, "名称应为 1–64 字", "name must be 1–64 characters")
    if not area.isdigit() or not (j.everything or (j.prefix and area.startswith(j.prefix))):
        raise CaseError(403, "范围超出您的辖区", "the area is outside your jurisdiction")
    if (
        not isinstance(checklist, list)
        or not 1 <= len(checklist) <= 50
        or not all(isinstance(i, str) and 0 < len(i) <= 200 for i in checklist)
    ):
        raise CaseError(400, "检查清单应为 1–50 项文本", "checklist must be a list of 1–50 texts")
    ends = parse_time(data["ends_at"], "ends_at") if data.get("ends_at") else None
    grids = list(
        Grid.objects.current()
        .filter(net__code="comprehensive", code__startswith=area)
        .values_list("code", flat=True)
    )
    if not grids:
        raise CaseError(400, "该范围内没有网格", "no grid in that area")
    with transaction.atomic():
        c = Campaign.objects.create(
            name=name,
            description=str(data.get("description", ""))[:2000],
            area_code=area,
            checklist=checklist,
            ends_at=ends,
            created_by=request.user,
        )
        CampaignProgress.objects.bulk_create(CampaignProgress(campaign=c, grid_code=g) for g in grids)
    return Status(201, _campaign_json(c))


def _campaign(request, pk: int) -> Campaign:
    """A campaign over an area inside the user's jurisdiction or pushed to a grid inside it; else 404."""
    c = Campaign.objects.filter(pk=pk).first()
    if c is None or not (covers(request.user, c.area_code) or scope(c.progress.all(), request.user).exists()):
        raise CaseError(404, "专项行动不存在或无权查看", "no such campaign, or not yours to see")
    return c


@router.get(
    "{int:pk}",
    response=responses(CampaignDetail, 401, 404),
    summary="专项行动详情 · a campaign with each grid's ticks (the grids of your jurisdiction)",
)
def campaign_detail(request: HttpRequest, pk: int):
    return _campaign_json(_campaign(request, pk), with_grids=True, user=request.user)


@router.post(
    "{int:pk}/progress",
    response=responses(CampaignDetail, 401, 404, 413),
    summary="更新进度 · tick checklist items for a grid of your jurisdiction",
)
def campaign_progress(request: HttpRequest, pk: int, body: Tick):
    """A grid worker ticks checklist items for a grid: {"grid_code", "done": [indexes]}."""
    c = _campaign(request, pk)
    if jurisdiction_of(request.user).role not in TICKERS and not jurisdiction_of(request.user).everything:
        raise CaseError(
            403, "只有网格员和指挥中心可以更新进度", "only grid workers and dispatchers update progress"
        )
    data = body.model_dump()
    grid = str(data.get("grid_code") or "")
    done = data.get("done")
    if not covers(request.user, grid):
        raise CaseError(403, "只能更新本人辖区的网格", "you can only update grids in your jurisdiction")
    if not isinstance(done, list) or not all(isinstance(i, int) and 0 <= i < len(c.checklist) for i in done):
        raise CaseError(400, "done 应为检查清单序号列表", "done must be a list of checklist indexes")
    row = c.progress.filter(grid_code=grid).first()
    if row is None:
        raise CaseError(404, "该网格不在本次行动范围内", "that grid is not part of the campaign")
    row.done = sorted(set(done))
    row.updated_by = request.user
    row.save()
    return _campaign_json(c, with_grids=True, user=request.user)


@router.get(
    "{int:pk}/map",
    response=responses(ProgressMap, 401, 404),
    summary="进度地图 · the campaign's grids as GeoJSON polygons with their progress (0–1)",
)
def campaign_map(request: HttpRequest, pk: int, q: Query[MapQuery]):
    c = _campaign(request, pk)
    progress = dict(scope(c.progress.all(), request.user).values_list("grid_code", "done"))
    n = max(1, len(c.checklist))
    limit = q.limit
    grids = (
        Grid.objects.current()
        .filter(net__code="comprehensive", code__in=list(progress))
        .annotate(json=AsGeoJSON("geom", precision=6))
        .values("code", "name", "json")[:limit]
    )
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(g["json"]),
            "properties": {
                "code": g["code"],
                "name": g["name"],
                "progress": round(len(progress[g["code"]]) / n, 4),
            },
        }
        for g in grids
    ]
    return {"type": "FeatureCollection", "features": features}
