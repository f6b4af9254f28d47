"""HTTP API of boundary drafts (mounted at /api/boundaries/).

JSON in, JSON out; every refusal is {"code", "reason", "error": {"zh", "en"}, …} with a 4xx status.
Session logins need Django's CSRF token on POST like any form; bearer-token calls do not (the token
middleware exempts them, there being no cookie to forge).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.db import OperationalError
from django.http import HttpRequest, JsonResponse

from . import operations
from .drafts import check_permission, create_draft, describe, editable
from .errors import Refusal
from .impact import impact
from .models import Draft, DraftGrid
from .publish import publish
from .validation import validate


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
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "bad_json", "请求体不是有效的 JSON", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refusal(400, "bad_json", "请求体应为 JSON 对象", "the body must be a JSON object")
    return data


def _draft(request: HttpRequest, draft_id: int) -> Draft:
    if not request.user.is_authenticated:
        raise Refusal(401, "unauthenticated", "请先登录", "authentication required")
    missing = Refusal(404, "not_found", f"草稿不存在：{draft_id}", f"no such draft: {draft_id}")
    draft = Draft.objects.select_related("area", "net", "created_by").filter(pk=draft_id).first()
    if draft is None:
        raise missing
    try:
        check_permission(request.user, draft.area)
    except Refusal as exc:
        # A draft outside the caller's area answers 404 too: a 403 would confirm that it exists.
        if exc.reason == "outside_jurisdiction":
            raise missing from None
        raise
    return draft


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
                    "changed": g.changed,
                    "new": g.source_id is None,
                },
            }
        )
    return _json({"type": "FeatureCollection", "features": features})


@api("POST")
def draft_operations(request: HttpRequest, draft_id: int) -> JsonResponse:
    draft = _draft(request, draft_id)
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
