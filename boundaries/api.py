"""The boundary-draft API, /api/boundaries/… (a ninja router; the rules are the modules beside it).

Every refusal is {"code", "reason", "error": {"zh", "en"}, …} with a 4xx status (boundaries.errors.Refusal,
an ApiError): the editor reads the stable `reason` and the grids or points that go with it.  Bodies are
declared loosely where the rules themselves check the values, so that their refusals keep their reasons.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from typing import Any

import shapely
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Query, Router, Status
from ninja.files import UploadedFile
from pydantic import Field
from shapely.geometry import mapping

from gisapp.accounts.jurisdiction import jurisdiction_of
from gisapp.apikit import LOGIN, Body, Open, Params, idempotent, login_where, responses
from layers.io.errors import LayerIOError
from layers.models import AdminUnit

from . import generations, operations, proposals
from .drafts import check_permission, create_draft, describe, editable, may_plan, require_planner
from .errors import Refusal
from .geometry import from_db, metric_of, shared_edge
from .impact import impact
from .models import Draft, DraftGrid, Proposal
from .publish import publish
from .undo import undo_last
from .validation import validate

GRID_CODE = re.compile(r"^[0-9A-Za-z-]{1,64}$")

router = Router(tags=["boundaries"], auth=LOGIN)
PLANNER = login_where(require_planner)  # planners and admins only, before any look at the body


# -- schemas -----------------------------------------------------------------------------------------
# Every field is optional to the schema: the rules check them after the caller's permission, with a
# reason the editor shows (a stranger learns nothing from a 400 about the body's shape).
class DraftCreate(Body):
    net: Any = Field(None, description="a net code (comprehensive, police …)")
    area: Any = Field(None, description="the admin-unit code the draft redraws")
    note: Any = Field(None, description="why the redraw")


class DraftOut(Open):
    id: int
    status: str


class Drafts(Open):
    drafts: list[DraftOut]


class FeatureCollection(Open):
    type: str
    features: list[dict]


class EdgeQuery(Params):
    grids: str = Field("", description="two grid codes, comma-separated")


class Edge(Open):
    grids: list[str]
    edge: dict


class OperationIn(Body):
    """One editing operation: `op` names it, the rest are its own fields (docs/BOUNDARIES.md)."""

    model_config = {"extra": "allow", "strict": True}
    op: Any = Field(None, description="split, merge, reshape, move_building, rename, create, delete …")


class Trail(Open):
    operations: list[dict]


class Applied(Open):
    result: dict
    renumbered: Any
    validation: dict
    draft: DraftOut


class PublishIn(Body):
    note: Any = Field(None, description="why: required, it is the change's record")
    workers: Any = Field(None, description="{grid-worker id: the grid code they move to}, else the successor")


class Published(Open):
    change: int
    published_at: str
    generations: Any
    note: str
    summary: Any


class Undone(Open):
    undone: dict
    validation: dict
    draft: DraftOut


class ImportForm(Body):
    net: str = Field(description="a net code")
    area: str = Field(description="an admin-unit code")
    crs: str | None = Field(None, description="when the file does not say (a Shapefile without .prj)")
    encoding: str | None = Field(None, description="of a Shapefile's .dbf, when not UTF-8")


class Imported(Open):
    draft: DraftOut
    validation: dict


class ProposalIn(Body):
    area: Any = Field(None, description="the admin-unit code to draw grids for")
    target: Any = Field(None, description="households per grid in towns")
    village_target: Any = Field(None, description="households per grid in villages")
    note: Any = None


class ProposalOut(Open):
    proposal: dict


class HistoryQuery(Params):
    net: str | None = Field(None, description="a net code (default: comprehensive)")
    area: str | None = Field(None, description="an admin-unit code inside your area")


class CompareQuery(HistoryQuery):
    a: str = Field("", description="a generation number")
    b: str = Field("", description="another generation number")


class ExportQuery(HistoryQuery):
    format: str = Field("gpkg", description="gpkg, shp (zipped) or geojson")


class Generations(Open):
    net: str
    nets: list[str]
    generations: list[dict]


# -- drafts ------------------------------------------------------------------------------------------
def _draft(request: HttpRequest, draft_id: int) -> Draft:
    missing = Refusal(404, "not_found", f"草稿不存在：{draft_id}", f"no such draft: {draft_id}")
    draft = Draft.objects.select_related("area", "net", "created_by").filter(pk=draft_id).first()
    if draft is None:
        raise missing
    _permitted_or_missing(request.user, draft.area, missing)
    return draft


def _permitted_or_missing(user, area: AdminUnit, missing: Refusal) -> None:
    """Planners of the area only; a thing outside the caller's area answers `missing` (404), since a
    403 would confirm that it exists."""
    try:
        check_permission(user, area)
    except Refusal as exc:
        if exc.reason == "outside_jurisdiction":
            raise missing from None
        raise


@router.get("drafts", response=responses(Drafts, 401), summary="边界草稿 · the drafts of your area")
def drafts(request: HttpRequest):
    mine = Draft.objects.select_related("area", "net", "created_by").order_by("-pk")
    out = []
    for d in mine[:200]:
        try:
            check_permission(request.user, d.area)
        except Refusal:
            continue
        out.append(describe(d))
    return {"drafts": out}


@router.post(
    "drafts",
    response=responses(DraftOut, 401, 404, 409, 413, 422, status=201),
    summary="新建草稿 · a draft of a net's grids in an area, copied from the generation in force",
)
@idempotent("boundary-draft")
def draft_create(request: HttpRequest, body: DraftCreate):
    net, area = body.net, body.area
    if not isinstance(net, str) or not isinstance(area, str) or not net or not area:
        raise Refusal(
            400,
            "bad_request",
            "需要 net（网代码）和 area（行政区划代码）",
            "net (a net code) and area (an admin-unit code) are required",
        )
    note = body.note or ""
    if not isinstance(note, str):
        raise Refusal(400, "bad_request", "note 应为文本", "note must be text")
    return Status(201, describe(create_draft(request.user, net, area, note)))


@router.get("drafts/{int:draft_id}", response=responses(DraftOut, 401, 404), summary="草稿 · one draft")
def draft_detail(request: HttpRequest, draft_id: int):
    return describe(_draft(request, draft_id))


@router.delete(
    "drafts/{int:draft_id}", response=responses(DraftOut, 401, 404, 409), summary="放弃草稿 · discard a draft"
)
def draft_discard(request: HttpRequest, draft_id: int):
    draft = _draft(request, draft_id)
    editable(draft)
    draft.status = "discarded"
    draft.save(update_fields=["status"])
    return describe(draft)


@router.get(
    "drafts/{int:draft_id}/grids",
    response=responses(FeatureCollection, 401, 404),
    summary="草稿网格 · the draft's live grids as GeoJSON (CGCS2000) with their load and label point",
)
def draft_grids(request: HttpRequest, draft_id: int):
    draft = _draft(request, draft_id)
    load = _load(draft)
    features = []
    for g in DraftGrid.objects.filter(draft=draft, deleted=False).select_related("net").order_by("code"):
        features.append(
            {
                "type": "Feature",
                "id": g.pk,
                "geometry": json.loads(g.geom.geojson),
                "properties": {
                    "code": g.code,
                    "net": g.net.code,
                    "name": g.name,
                    "kind": g.kind,
                    "target_households": g.target_households,
                    "households": load.get(g.pk, (0, None))[0],
                    # one label point per grid (a map library labels a polygon once per tile it spans)
                    "label_at": load.get(g.pk, (0, None))[1],
                    "changed": g.changed,
                    "new": g.source_id is None,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _load(draft: Draft) -> dict[int, tuple[int, list[float]]]:
    """Households of the buildings inside each live grid (the load the editor colours grids by, counted
    as validation counts it: a building's point inside the grid) and a point inside it for its label."""
    with connection.cursor() as cur:
        cur.execute(
            """select d.id, coalesce(sum(b.households), 0), st_x(p), st_y(p)
               from boundaries_draftgrid d
               cross join lateral st_pointonsurface(d.geom) p
               left join layers_building b on st_contains(d.geom, b.point)
               where d.draft_id = %s and not d.deleted group by d.id, p""",
            [draft.pk],
        )
        return {pk: (int(n), [round(x, 7), round(y, 7)]) for pk, n, x, y in cur.fetchall()}


@router.get(
    "drafts/{int:draft_id}/units",
    response=responses(FeatureCollection, 401, 404),
    summary="划分单元 · the communities (or districts) the draft partitions: lines no grid may cross",
)
def draft_units(request: HttpRequest, draft_id: int):
    draft = _draft(request, draft_id)
    features = [
        {
            "type": "Feature",
            "id": u.pk,
            "geometry": json.loads(u.geom.geojson),
            "properties": {"code": u.code, "name": u.name, "level": u.level},
        }
        for u in AdminUnit.objects.filter(pk__in=draft.containers).order_by("code")
    ]
    return {"type": "FeatureCollection", "features": features}


@router.get(
    "drafts/{int:draft_id}/edge",
    response=responses(Edge, 401, 404, 422),
    summary="公共边 · the shared edge of two grids, for the editor to move (sent back as a reshape's edge)",
)
def draft_edge(request: HttpRequest, draft_id: int, q: Query[EdgeQuery]):
    draft = _draft(request, draft_id)
    codes = [c.strip() for c in q.grids.split(",") if c.strip()]
    if len(codes) != 2 or codes[0] == codes[1] or not all(GRID_CODE.match(c) for c in codes):
        raise Refusal(
            400, "bad_request", "grids 应为两个网格编码，逗号分隔", "grids: two codes, comma-separated"
        )
    rows = {g.code: g for g in DraftGrid.objects.filter(draft=draft, deleted=False, code__in=codes)}
    missing = [c for c in codes if c not in rows]
    if missing:
        raise Refusal(
            422,
            "unknown_grid",
            f"草稿中没有网格 {', '.join(missing)}",
            f"no grid {', '.join(missing)} in this draft",
            grids=missing,
        )
    a, b = (from_db(rows[c].geom) for c in codes)
    edge = shared_edge(a, b, metric_of(draft).degrees(0.01))
    if edge is None:
        raise Refusal(
            422,
            "not_adjacent",
            "这两个网格没有一条连续的公共边",
            "the two grids do not share one continuous edge",
            grids=codes,
        )
    return {"grids": codes, "edge": mapping(shapely.set_precision(edge, 0))}


@router.get(
    "drafts/{int:draft_id}/operations",
    response=responses(Trail, 401, 404),
    summary="编辑记录 · the draft's operations, oldest first",
)
def draft_trail(request: HttpRequest, draft_id: int):
    draft = _draft(request, draft_id)
    trail = draft.operations.select_related("user").order_by("seq")
    return {
        "operations": [
            {
                "seq": o.seq,
                "op": o.op,
                "payload": o.payload,
                "result": o.result,
                "user": o.user.username if o.user else None,
                "created_at": o.created_at.isoformat(),
            }
            for o in trail
        ]
    }


@router.post(
    "drafts/{int:draft_id}/operations",
    response=responses(Applied, 401, 404, 409, 413, 422),
    summary="编辑 · apply one operation (split, merge, reshape …) and validate the grids it touched",
)
@idempotent("boundary-operation")
def draft_operation(request: HttpRequest, draft_id: int, body: OperationIn):
    draft = _draft(request, draft_id)
    data = body.model_dump(exclude_unset=True)
    outcome, renamed = operations.apply(draft, data, request.user)
    draft.refresh_from_db()
    result = validate(draft, containers=sorted(outcome.containers))
    return {
        "op": data.get("op"),
        "result": outcome.as_json(),
        "renumbered": renamed,
        "validation": result,
        "draft": describe(draft),
    }


@router.get(
    "drafts/{int:draft_id}/validation",
    response=responses(Open, 401, 404),
    summary="校验 · gaps, overlaps, crossings and loads of the whole draft",
)
def draft_validation(request: HttpRequest, draft_id: int):
    return validate(_draft(request, draft_id))


@router.get(
    "drafts/{int:draft_id}/impact",
    response=responses(Open, 401, 404),
    summary="影响 · the buildings, cases, workers and residents that would change grid",
)
def draft_impact(request: HttpRequest, draft_id: int):
    return impact(_draft(request, draft_id))


@router.post(
    "drafts/{int:draft_id}/publish",
    response=responses(Published, 401, 404, 409, 413, 422),
    summary="发布 · publish the draft as the next generation (seamless with its neighbours)",
)
@idempotent("boundary-publish")
def draft_publish(request: HttpRequest, draft_id: int, body: PublishIn):
    draft = _draft(request, draft_id)
    change = publish(draft, request.user, body.note, body.workers)
    return {
        "change": change.pk,
        "published_at": change.published_at.isoformat(),
        "generations": change.generations,
        "note": change.note,
        "summary": change.summary,
    }


@router.post(
    "drafts/{int:draft_id}/undo",
    response=responses(Undone, 401, 404, 409),
    summary="撤销 · take back the draft's last operation (again for the one before)",
)
def draft_undo(request: HttpRequest, draft_id: int):
    draft = _draft(request, draft_id)
    undone, containers = undo_last(draft)
    draft.refresh_from_db()
    return {
        "undone": {"seq": undone.seq, "op": undone.op, "result": undone.result},
        "validation": validate(draft, containers=containers),
        "draft": describe(draft),
    }


@router.post(
    "drafts/import",
    auth=PLANNER,
    response=responses(Imported, 401, 404, 413, 422, status=201),
    summary="导入 · a draft from a file (.gpkg, .geojson, or a Shapefile as .zip)",
)
@idempotent("boundary-import")
def draft_import(request: HttpRequest, form: Form[ImportForm], file: File[UploadedFile]):
    from .upload import import_upload

    draft, report = import_upload(
        request.user, file, form.net, form.area, crs=form.crs, encoding=form.encoding
    )
    return Status(201, {"draft": describe(draft), "import": report, "validation": validate(draft)})


# -- proposals ---------------------------------------------------------------------------------------
@router.post(
    "proposals",
    auth=PLANNER,
    response=responses(ProposalOut, 401, 404, 413, 422, status=202),
    summary="划分助手 · queue the grid drawing assistant for an area; poll links.self for its draft",
)
@idempotent("boundary-proposal")
def proposals_create(request: HttpRequest, body: ProposalIn):
    job = proposals.queue(request.user, body.area, body.target, body.village_target, body.note)
    transaction.on_commit(proposals.kick)
    return Status(202, {"proposal": proposals.describe(job)})


def _proposal(request: HttpRequest, proposal_id: str) -> Proposal:
    missing = Refusal(404, "not_found", f"划分任务不存在：{proposal_id}", f"no such proposal: {proposal_id}")
    try:
        job = Proposal.objects.filter(pk=uuid.UUID(proposal_id)).first()
    except ValueError:
        raise missing from None
    area = AdminUnit.objects.filter(code=job.area_code).first() if job else None
    if job is None or area is None:
        raise missing
    _permitted_or_missing(request.user, area, missing)
    return job


@router.get(
    "proposals/{str:proposal_id}",
    response=responses(ProposalOut, 401, 404),
    summary="划分进度 · the assistant's run: its progress, and its draft when done",
)
def proposal_detail(request: HttpRequest, proposal_id: str):
    job = _proposal(request, proposal_id)
    proposals.resume(job)
    job.refresh_from_db()
    return {"proposal": proposals.describe(job)}


@router.delete(
    "proposals/{str:proposal_id}",
    response=responses(ProposalOut, 401, 404, 409),
    summary="取消划分 · cancel the assistant's run (409 once it has finished)",
)
def proposal_cancel(request: HttpRequest, proposal_id: str):
    return {"proposal": proposals.describe(proposals.cancel(_proposal(request, proposal_id)))}


# -- generations -------------------------------------------------------------------------------------
def _history_scope(request: HttpRequest, q: HistoryQuery, grids: bool = True) -> generations.Scope:
    """Planners and admins; a planner sees the area asked for if it is theirs, else (for anything that
    reads grids) their own area."""
    if not may_plan(request.user):
        raise Refusal(
            403, "forbidden", "只有网格规划员和管理员可以查看边界版本", "only planners and administrators may"
        )
    scope = generations.scope_for(q.net, q.area)
    if scope.area is not None:
        check_permission(request.user, scope.area)
        return scope
    j = jurisdiction_of(request.user)
    if j.everything or not grids:
        return scope
    own = AdminUnit.objects.filter(code=j.prefix).defer("geom", "geom_3857").first()
    if own is None:
        raise Refusal(
            403, "outside_jurisdiction", "请指定辖区内的 area", "give an area inside your jurisdiction"
        )
    return generations.Scope(scope.net, scope.nets, own)


@router.get(
    "generations",
    response=responses(Generations, 401, 404),
    summary="边界版本 · the published generations of a net, newest first",
)
def generation_list(request: HttpRequest, q: Query[HistoryQuery]):
    scope = _history_scope(request, q, grids=False)
    return {
        "net": scope.net.code,
        "nets": [n.code for n in scope.nets],
        "generations": generations.listing(scope),
    }


@router.get(
    "generations/compare",
    response=responses(Open, 401, 404),
    summary="版本比较 · what differs between two generations (a, b) in an area",
)
def generation_compare(request: HttpRequest, q: Query[CompareQuery]):
    scope = _history_scope(request, q)
    a = generations.generation(scope, q.a)
    b = generations.generation(scope, q.b)
    return generations.compare(scope, a, b)


@router.get(
    "generations/{int:number}",
    response=responses(FeatureCollection, 401, 404),
    summary="历史网格 · the grids as they were in generation n (GeoJSON)",
)
def generation_grids(request: HttpRequest, number: int, q: Query[HistoryQuery]):
    scope = _history_scope(request, q)
    return generations.collection(scope, generations.generation(scope, number))


@router.get(
    "generations/{int:number}/export",
    response=responses(None, 401, 404, 422),
    summary="导出版本 · a file of the generation's grids (gpkg, zipped shp, geojson) the import reads back",
    openapi_extra={
        "responses": {
            200: {
                "description": "the file",
                "content": {
                    t: {"schema": {"type": "string", "format": "binary"}}
                    for t in ("application/geopackage+sqlite3", "application/geo+json", "application/zip")
                },
            }
        }
    },
)
def generation_export(request: HttpRequest, number: int, q: Query[ExportQuery]):
    scope = _history_scope(request, q)
    gen = generations.generation(scope, number)
    try:
        path, name, workdir = generations.export(scope, gen, q.format)
    except LayerIOError as exc:
        raise Refusal(422, "export_failed", str(exc), str(exc)) from None
    try:
        data = path.read_bytes()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    types = {".gpkg": "application/geopackage+sqlite3", ".geojson": "application/geo+json"}
    response = HttpResponse(data, content_type=types.get(path.suffix, "application/zip"))
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
