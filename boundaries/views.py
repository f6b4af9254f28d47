"""HTTP API of boundary drafts (mounted at /api/boundaries/).

JSON in, JSON out; every refusal is {"code", "reason", "error": {"zh", "en"}, …} with a 4xx status.
Session logins need Django's CSRF token on POST like any form; bearer-token calls do not (the token
middleware exempts them, there being no cookie to forge).
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable
from functools import wraps

import shapely
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from shapely.geometry import mapping

from gisapp.accounts.jurisdiction import jurisdiction_of
from gisapp.idempotency import idempotent
from gisapp.limits import has_nul
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
from .upload import import_upload
from .validation import validate

GRID_CODE = re.compile(r"^[0-9A-Za-z-]{1,64}$")


def _json(data: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def api(*methods: str) -> Callable:
    """Method check, JSON errors for refusals and busy databases, never an HTML page."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            try:
                if request.method not in methods:
                    response = _json(
                        Refusal(
                            405,
                            "method_not_allowed",
                            f"不支持 {request.method} 方法",
                            f"method {request.method} is not allowed",
                        ).payload(),
                        405,
                    )
                    response["Allow"] = ", ".join(methods)
                    return response
                return view(request, *args, **kwargs)
            except Refusal as exc:
                return _json(exc.payload(), exc.status)
            except OperationalError:
                return _json(
                    {
                        "code": 503,
                        "reason": "busy",
                        "error": {
                            "zh": "数据库繁忙，请稍后重试",
                            "en": "the database is busy; try again later",
                        },
                    },
                    503,
                )

        return wrapper

    return decorate


def _body(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        raise Refusal(400, "bad_json", "请求体不是有效的 JSON", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refusal(400, "bad_json", "请求体应为 JSON 对象", "the body must be a JSON object")
    if has_nul(data):
        raise Refusal(400, "bad_json", "文本中不能含有 NUL 字符", "text must not contain NUL characters")
    return data


def _draft(request: HttpRequest, draft_id: int) -> Draft:
    if not request.user.is_authenticated:
        raise Refusal(401, "unauthenticated", "请先登录", "authentication required")
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


@idempotent("boundary-draft")
@api("POST", "GET")
def drafts(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        if not request.user.is_authenticated:
            raise Refusal(401, "unauthenticated", "请先登录", "authentication required")
        mine = Draft.objects.select_related("area", "net", "created_by").order_by("-pk")
        out = []
        for d in mine[:200]:
            try:
                check_permission(request.user, d.area)
            except Refusal:
                continue
            out.append(describe(d))
        return _json({"drafts": out})
    body = _body(request)
    net, area = body.get("net"), body.get("area")
    if not isinstance(net, str) or not isinstance(area, str) or not net or not area:
        raise Refusal(
            400,
            "bad_request",
            "需要 net（网代码）和 area（行政区划代码）",
            "net (a net code) and area (an admin-unit code) are required",
        )
    note = body.get("note") or ""
    if not isinstance(note, str):
        raise Refusal(400, "bad_request", "note 应为文本", "note must be text")
    draft = create_draft(request.user, net, area, note)
    return _json(describe(draft), 201)


@api("GET", "DELETE")
def draft_detail(request: HttpRequest, draft_id: int) -> JsonResponse:
    draft = _draft(request, draft_id)
    if request.method == "DELETE":
        editable(draft)
        draft.status = "discarded"
        draft.save(update_fields=["status"])
    return _json(describe(draft))


@api("GET")
def draft_grids(request: HttpRequest, draft_id: int) -> JsonResponse:
    """The draft's live grids as GeoJSON (CGCS2000), for the editor and for checking by hand."""
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
    return _json({"type": "FeatureCollection", "features": features})


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


@api("GET")
def draft_units(request: HttpRequest, draft_id: int) -> JsonResponse:
    """The units the draft partitions (communities, or districts for overlay nets): the lines no grid
    may cross, drawn by the editor at every zoom."""
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
    return _json({"type": "FeatureCollection", "features": features})


@api("GET")
def draft_edge(request: HttpRequest, draft_id: int) -> JsonResponse:
    """GET …/edge?grids=A,B — the shared edge of two grids, for the editor to move (then sent back as a
    reshape's `edge`)."""
    draft = _draft(request, draft_id)
    codes = [c.strip() for c in request.GET.get("grids", "").split(",") if c.strip()]
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
    return _json({"grids": codes, "edge": mapping(shapely.set_precision(edge, 0))})


@idempotent("boundary-operation")
@api("GET", "POST")
def draft_operations(request: HttpRequest, draft_id: int) -> JsonResponse:
    draft = _draft(request, draft_id)
    if request.method == "GET":  # the draft's trail, oldest first
        trail = draft.operations.select_related("user").order_by("seq")
        return _json(
            {
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
        )
    body = _body(request)
    outcome, renamed = operations.apply(draft, body, request.user)
    draft.refresh_from_db()
    result = validate(draft, containers=sorted(outcome.containers))
    return _json(
        {
            "op": body.get("op"),
            "result": outcome.as_json(),
            "renumbered": renamed,
            "validation": result,
            "draft": describe(draft),
        }
    )


@api("GET")
def draft_validation(request: HttpRequest, draft_id: int) -> JsonResponse:
    draft = _draft(request, draft_id)
    return _json(validate(draft))


@api("GET")
def draft_impact(request: HttpRequest, draft_id: int) -> JsonResponse:
    draft = _draft(request, draft_id)
    return _json(impact(draft))


@idempotent("boundary-publish")
@api("POST")
def draft_publish(request: HttpRequest, draft_id: int) -> JsonResponse:
    draft = _draft(request, draft_id)
    body = _body(request)
    change = publish(draft, request.user, body.get("note"), body.get("workers"))
    return _json(
        {
            "change": change.pk,
            "published_at": change.published_at.isoformat(),
            "generations": change.generations,
            "note": change.note,
            "summary": change.summary,
        }
    )


@api("POST")
def draft_undo(request: HttpRequest, draft_id: int) -> JsonResponse:
    """Take back the draft's last operation (again for the one before)."""
    draft = _draft(request, draft_id)
    undone, containers = undo_last(draft)
    draft.refresh_from_db()
    return _json(
        {
            "undone": {"seq": undone.seq, "op": undone.op, "result": undone.result},
            "validation": validate(draft, containers=containers),
            "draft": describe(draft),
        }
    )


@idempotent("boundary-import")
@api("POST")
def draft_import(request: HttpRequest) -> JsonResponse:
    """POST multipart: `file` (.gpkg, .geojson, or a Shapefile as .zip), `net`, `area`, optional `crs`
    and `encoding` → 201 with the new draft, what was read, and its validation."""
    require_planner(request.user)  # before the body is looked at: a 400 would tell a stranger the shape
    upload = request.FILES.get("file")
    net, area = request.POST.get("net", ""), request.POST.get("area", "")
    if upload is None or not net or not area:
        raise Refusal(
            400,
            "bad_request",
            "需要 file（文件）、net（网代码）和 area（行政区划代码）",
            "file, net (a net code) and area (an admin-unit code) are required",
        )
    draft, report = import_upload(
        request.user, upload, net, area, crs=request.POST.get("crs"), encoding=request.POST.get("encoding")
    )
    return _json({"draft": describe(draft), "import": report, "validation": validate(draft)}, 201)


# ------------------------------------------------------------------------------------------- proposals
@idempotent("boundary-proposal")
@api("POST")
def proposals_create(request: HttpRequest) -> JsonResponse:
    """POST {"area", "target"?, "village_target"?, "note"?} → 202 with the queued run of the grid drawing
    assistant; poll its `links.self` for progress and the draft it makes (boundaries.proposals)."""
    require_planner(request.user)
    body = _body(request)
    job = proposals.queue(
        request.user, body.get("area"), body.get("target"), body.get("village_target"), body.get("note")
    )
    transaction.on_commit(proposals.kick)
    return _json({"proposal": proposals.describe(job)}, 202)


@api("GET", "DELETE")
def proposal_detail(request: HttpRequest, proposal_id: str) -> JsonResponse:
    """GET: the run's progress (and its draft when done); DELETE: cancel it (409 once it has finished)."""
    if not request.user.is_authenticated:
        raise Refusal(401, "unauthenticated", "请先登录", "authentication required")
    missing = Refusal(404, "not_found", f"划分任务不存在：{proposal_id}", f"no such proposal: {proposal_id}")
    try:
        job = Proposal.objects.filter(pk=uuid.UUID(proposal_id)).first()
    except ValueError:
        raise missing from None
    area = AdminUnit.objects.filter(code=job.area_code).first() if job else None
    if job is None or area is None:
        raise missing
    _permitted_or_missing(request.user, area, missing)
    if request.method == "DELETE":
        job = proposals.cancel(job)
    else:
        proposals.resume(job)
        job.refresh_from_db()
    return _json({"proposal": proposals.describe(job)})


# ------------------------------------------------------------------------------------------- generations
def _history_scope(request: HttpRequest, grids: bool = True) -> generations.Scope:
    """Planners and admins; a planner sees the area asked for if it is theirs, else (for anything that
    reads grids) their own area."""
    if not request.user.is_authenticated:
        raise Refusal(401, "unauthenticated", "请先登录", "authentication required")
    if not may_plan(request.user):
        raise Refusal(
            403, "forbidden", "只有网格规划员和管理员可以查看边界版本", "only planners and administrators may"
        )
    scope = generations.scope_for(request.GET.get("net"), request.GET.get("area"))
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


@api("GET")
def generation_list(request: HttpRequest) -> JsonResponse:
    """GET /api/boundaries/generations?net=… — the published generations, newest first."""
    scope = _history_scope(request, grids=False)
    return _json(
        {
            "net": scope.net.code,
            "nets": [n.code for n in scope.nets],
            "generations": generations.listing(scope),
        }
    )


@api("GET")
def generation_grids(request: HttpRequest, number: int) -> JsonResponse:
    """GET /api/boundaries/generations/{n}?net=…&area=… — the grids as they were in generation n."""
    scope = _history_scope(request)
    return _json(generations.collection(scope, generations.generation(scope, number)))


@api("GET")
def generation_compare(request: HttpRequest) -> JsonResponse:
    """GET /api/boundaries/generations/compare?net=…&a=…&b=…&area=… — what differs between two."""
    scope = _history_scope(request)
    a = generations.generation(scope, request.GET.get("a", ""))
    b = generations.generation(scope, request.GET.get("b", ""))
    return _json(generations.compare(scope, a, b))


@api("GET")
def generation_export(request: HttpRequest, number: int) -> HttpResponse:
    """GET /api/boundaries/generations/{n}/export?net=…&area=…&format=gpkg|shp|geojson — a file of the
    generation's grids that `import_boundary_draft` (or the editor's import) reads back."""
    scope = _history_scope(request)
    gen = generations.generation(scope, number)
    try:
        path, name, workdir = generations.export(scope, gen, request.GET.get("format", "gpkg"))
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
