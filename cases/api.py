"""REST API of the case loop under /api/cases (documented in /api/cases/openapi.json)."""

from __future__ import annotations

import datetime as dt
import json

from django.db.models import DurationField, ExpressionWrapper, F, Q
from django.http import FileResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from gisapp.idempotency import idempotent
from gisapp.limits import has_nul

from .errors import CaseError
from .models import Attachment, Case, CaseStatus
from .models.case import FINAL_STATES, Channel
from .serialize import case_json
from .services import apply_transition, create_case, visible_cases

MAX_LIMIT = 500
MAX_UPLOAD = 10 * 1024 * 1024
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}


def json_body(request, max_bytes: int = 1024 * 1024) -> dict:
    """The request's JSON object, or a CaseError saying what is wrong with it."""
    if len(request.body) > max_bytes:
        raise CaseError(413, "请求体过大", "request body too large")
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        raise CaseError(400, "请求体不是有效的 JSON", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise CaseError(400, "请求体应为 JSON 对象", "the body must be a JSON object")
    if has_nul(data):
        raise CaseError(
            400, "文本中不能含有 NUL（\\u0000）字符", "text must not contain NUL (\\u0000) characters"
        )
    return data


def _login_required(request) -> None:
    if not request.user.is_authenticated:
        raise CaseError(401, "需要登录", "authentication required")


def api_view(methods: list[str]):
    """JSON errors for every refusal, and authentication first."""

    def wrap(view):
        @require_http_methods(methods)
        def inner(request, *args, **kwargs):
            try:
                _login_required(request)
                return view(request, *args, **kwargs)
            except CaseError as exc:
                return exc.response()

        inner.__name__ = view.__name__
        inner.__doc__ = view.__doc__
        return inner

    return wrap


def _light_q(value: str, now: dt.datetime) -> Q:
    open_q = ~Q(status__in=FINAL_STATES)
    if value == "red":
        return open_q & Q(deadline__lt=now)
    yellow = open_q & Q(deadline__gte=now) & Q(yellow_from__lte=now)
    if value == "yellow":
        return yellow
    if value == "green":
        return open_q & ~Q(deadline__lt=now) & ~(Q(deadline__gte=now) & Q(yellow_from__lte=now))
    raise CaseError(400, "light 应为 green、yellow 或 red", "light must be green, yellow or red")


def _parse_time(value: str, name: str) -> dt.datetime:
    """An ISO 8601 time (naive = local), in UTC: Python takes offsets up to ±24 h, PostgreSQL only ±16 h
    ("-21:33" was a 500), and converting first also catches moments that overflow the calendar."""
    try:
        parsed = dt.datetime.fromisoformat(value)
        parsed = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise CaseError(400, f"{name} 不是有效的时间", f"{name} must be an ISO 8601 date or time") from None


def _int(value: str, name: str, lo: int, hi: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise CaseError(400, f"{name} 应为整数", f"{name} must be an integer") from None
    if not lo <= number <= hi:
        raise CaseError(400, f"{name} 应在 {lo}–{hi} 之间", f"{name} must be between {lo} and {hi}")
    return number


FILTERS = {
    "status",
    "category",
    "light",
    "area",
    "since",
    "until",
    "needs_placement",
    "channel",
    "limit",
    "offset",
    "assignee",
}


def list_cases(request) -> JsonResponse:
    unknown = set(request.GET) - FILTERS
    if unknown:
        raise CaseError(
            400,
            f"未知参数：{', '.join(sorted(unknown))}",
            f"unknown parameters: {', '.join(sorted(unknown))}",
        )
    now = timezone.now()
    qs = visible_cases(request.user).select_related("category", "department", "duplicate_of")
    g = request.GET
    # A filter that is present is checked even when empty: "status=" is a mistake, not "any status".
    if "status" in g:
        statuses = g["status"].split(",")
        if not set(statuses) <= set(CaseStatus.values):
            raise CaseError(400, "未知的状态", f"status must be among {', '.join(CaseStatus.values)}")
        qs = qs.filter(status__in=statuses)
    if g.get("category"):
        qs = qs.filter(Q(category__code=g["category"]) | Q(category__parent__code=g["category"]))
    if "channel" in g:
        if g["channel"] not in Channel.values:
            raise CaseError(400, "未知的来源", "unknown channel")
        qs = qs.filter(channel=g["channel"])
    if "area" in g:  # present but empty is malformed too (the pages never send it)
        if not g["area"].isdigit() or len(g["area"]) > 15:
            raise CaseError(400, "area 应为行政区划或网格编码", "area must be an admin-unit or grid code")
        qs = qs.filter(grid_code__startswith=g["area"])
    if g.get("assignee"):
        qs = qs.filter(assignee_code=g["assignee"][:32])
    if "since" in g:
        qs = qs.filter(reported_at__gte=_parse_time(g["since"], "since"))
    if "until" in g:
        qs = qs.filter(reported_at__lt=_parse_time(g["until"], "until"))
    if "needs_placement" in g:
        flag = {"true": True, "1": True, "false": False, "0": False}.get(g["needs_placement"])
        if flag is None:
            raise CaseError(
                400, "needs_placement 应为 true 或 false", "needs_placement must be true or false"
            )
        qs = qs.filter(needs_placement=flag)
    if "light" in g:
        qs = qs.annotate(
            yellow_from=ExpressionWrapper(
                F("deadline") - (F("deadline") - F("step_started_at")) * 0.25, output_field=DurationField()
            )
        ).filter(_light_q(g["light"], now))
    limit = _int(g.get("limit", "50"), "limit", 1, MAX_LIMIT)
    offset = _int(g.get("offset", "0"), "offset", 0, 10**7)
    total = qs.count()
    page = qs.order_by("-reported_at", "-id")[offset : offset + limit]
    return JsonResponse(
        {
            "count": total,
            "limit": limit,
            "offset": offset,
            "results": [case_json(c, request.user) for c in page],
        }
    )


@api_view(["GET", "POST"])
def cases(request):
    """GET: the cases the user may see, filtered; POST: report a case (Idempotency-Key honoured)."""
    if request.method == "GET":
        return list_cases(request)
    data = json_body(request)
    channel = data.get("channel", Channel.GRID_WORKER if _is_worker(request.user) else Channel.HOTLINE)
    result = create_case(data, request.user, channel, request.headers.get("Idempotency-Key"))
    if result.created:  # the case as stored (category loaded), with the one event and no attachments yet
        body = case_json(result.case, request.user, detail=True, events=[result.event], attachments=[])
        return JsonResponse(body, status=201)
    case = Case.objects.select_related("category", "department", "duplicate_of").get(pk=result.case.pk)
    return JsonResponse(case_json(case, request.user, detail=True), status=200)


def _is_worker(user) -> bool:
    profile = getattr(user, "profile", None)
    return profile is not None and profile.role == "grid_worker"


def _visible_case(request, number: str) -> Case:
    case = (
        visible_cases(request.user)
        .select_related("category", "category__parent", "department", "duplicate_of")
        .filter(number=number[:24])
        .first()
    )
    if case is None:
        raise CaseError(404, "案件不存在或无权查看", "no such case, or not yours to see")
    return case


@api_view(["GET"])
def case_detail(request, number: str):
    """The case; `unmask=reporter_contact` shows the contact in clear to those who may call the reporter
    back (layers.masking.reveal: the policy and an audit row), a 403 for anyone else."""
    from django.core.exceptions import PermissionDenied

    from layers.masking import reveal

    case = _visible_case(request, number)
    body = case_json(case, request.user, detail=True)
    wanted = request.GET.get("unmask")
    if wanted:
        try:
            body.update(reveal(request, case, wanted.split(","), "api:case-detail"))
        except ValueError:
            raise CaseError(400, "unmask 只能是 reporter_contact", "unmask takes reporter_contact") from None
        except PermissionDenied:
            raise CaseError(
                403, "您无权查看上报人的联系方式", "you may not see the reporter's contact in clear"
            ) from None
    return JsonResponse(body)


@api_view(["POST"])
def transitions(request, number: str):
    """Body: {"transition": name, "version": n, ...the transition's fields}."""
    data = json_body(request)
    name = data.pop("transition", None) or data.pop("name", None)
    version = data.pop("version", None)
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise CaseError(400, "version 应为整数", "version must be an integer")
    case = apply_transition(number[:24], name, data, request.user, version)
    case = Case.objects.select_related("category", "department", "duplicate_of").get(pk=case.pk)
    return JsonResponse(case_json(case, request.user, detail=True))


@idempotent("case-attachment")
@api_view(["POST"])
def upload_attachment(request, number: str):
    """A photo for the case (multipart field `file`); name its id in the next transition's `attachments`.

    Only those who act on the case (a relation of the workflow table) add photos; reading it is not enough."""
    from .services import relations

    case = _visible_case(request, number)
    if not relations(request.user, case):
        raise CaseError(403, "您不处理此案件，不能上传附件", "only those acting on the case may add photos")
    upload = request.FILES.get("file")
    if upload is None:
        raise CaseError(400, "需要上传文件（字段 file）", "a multipart field 'file' is required")
    if upload.size > MAX_UPLOAD:
        raise CaseError(413, "文件超过 10 MB", "the file is larger than 10 MB")
    if upload.content_type not in IMAGE_TYPES:
        raise CaseError(415, "只接受 JPEG、PNG、WebP 图片", "only JPEG, PNG and WebP images are accepted")
    att = Attachment.objects.create(
        case=case, file=upload, content_type=upload.content_type, size=upload.size, uploaded_by=request.user
    )
    return JsonResponse({"id": att.pk, "url": f"/api/cases/{case.number}/attachments/{att.pk}"}, status=201)


@api_view(["GET"])
def attachment(request, number: str, pk: int):
    case = _visible_case(request, number)
    att = case.attachments.filter(pk=pk).first()
    if att is None:
        raise CaseError(404, "附件不存在", "no such attachment")
    return FileResponse(att.file.open("rb"), content_type=att.content_type)


@api_view(["GET"])
def overdue(request):
    """Open cases past their deadline in the user's jurisdiction (optionally an `area` inside it)."""
    qs = visible_cases(request.user).exclude(status__in=FINAL_STATES).filter(deadline__lt=timezone.now())
    area = request.GET.get("area")
    if area is not None:
        if not area.isdigit() or len(area) > 15:
            raise CaseError(400, "area 应为行政区划或网格编码", "area must be an admin-unit or grid code")
        qs = qs.filter(grid_code__startswith=area)
    limit = _int(request.GET.get("limit", "100"), "limit", 1, MAX_LIMIT)
    rows = qs.select_related("category", "department", "duplicate_of").order_by("deadline")[:limit]
    return JsonResponse({"count": qs.count(), "results": [case_json(c, request.user) for c in rows]})


@api_view(["GET"])
def stats(request):
    """Evaluation per `group` (grid / community / street / district / department) over since–until,
    as JSON, or a download with format=csv / xlsx."""
    from django.http import HttpResponse

    from . import stats as evaluation

    g = request.GET
    group = g.get("group", "street")
    if group not in evaluation.GROUPS:
        raise CaseError(
            400,
            "group 应为 grid、community、street、district 或 department",
            f"group must be one of {', '.join(evaluation.GROUPS)}",
        )
    since, until = evaluation.default_period()
    if "since" in g:
        since = _parse_time(g["since"], "since")
    if "until" in g:
        until = _parse_time(g["until"], "until")
    if until <= since or until - since > dt.timedelta(days=3660):
        raise CaseError(400, "时间范围无效", "since must be before until, within ten years")
    rows = evaluation.evaluate(request.user, group, since, until)
    fmt = g.get("format", "json")
    name = f"evaluation-{group}-{since:%Y%m%d}-{until:%Y%m%d}"
    if fmt == "csv":
        response = HttpResponse(evaluation.to_csv(rows), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = HttpResponse(
            evaluation.to_xlsx(rows, name),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    elif fmt == "json":
        return JsonResponse(
            {"group": group, "since": since.isoformat(), "until": until.isoformat(), "rows": rows}
        )
    else:
        raise CaseError(400, "format 应为 json、csv 或 xlsx", "format must be json, csv or xlsx")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
