"""The case loop's REST API under /api/cases (a ninja router; the rules are cases.services)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.db.models import DurationField, ExpressionWrapper, F, Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import File, Header, Query, Router, Status
from ninja.files import UploadedFile
from pydantic import ConfigDict, Field

from gisapp.apikit import LOGIN, Body, Open, Params, idempotent, responses

from .errors import CaseError
from .models import Attachment, Case, CaseStatus
from .models.case import FINAL_STATES, Channel, Level, Severity
from .params import parse_time
from .schemas import Location
from .serialize import case_json
from .services import apply_transition, create_case, visible_cases
from .workflow import TRANSITIONS

MAX_LIMIT = 500
MAX_UPLOAD = 10 * 1024 * 1024
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
AREA = r"^[0-9]{1,15}$"
NUMBER = Field(max_length=24, description="the case number")

router = Router(tags=["cases"], auth=LOGIN)

ChannelName = Literal[tuple(Channel.values)]  # type: ignore[valid-type]


# -- schemas -----------------------------------------------------------------------------------------
class CaseCreate(Body):
    category: str = Field(description="an item code of the category dictionary")
    description: str | None = Field(None, max_length=2000)
    location: Location | None = None
    address: str | None = Field(None, max_length=160)
    contact: str | None = Field(None, max_length=64)
    channel: ChannelName | None = None  # type: ignore[valid-type]


class Assignee(Open):
    level: Literal[tuple(Level.values)] | None = None  # type: ignore[valid-type]
    code: str | None = None
    department: str | None = None


class CaseOut(Open):
    number: str
    status: Literal[tuple(CaseStatus.values)]  # type: ignore[valid-type]
    category: str
    severity: Literal[tuple(Severity.values)]  # type: ignore[valid-type]
    lon: float | None
    lat: float | None
    building_id: int | None
    grid_code: str | None
    grids: dict[str, str]
    assignee: Assignee
    deadline: str | None
    light: Literal["green", "yellow", "red"] | None
    needs_placement: bool
    version: int


class CaseDetail(CaseOut):
    trail: list[dict]


class CasePage(Open):
    count: int
    limit: int
    offset: int
    results: list[CaseOut]


class Overdue(Open):
    count: int
    results: list[CaseOut]


class Evaluation(Open):
    group: str
    since: str
    until: str
    rows: list[dict]


class AssigneeIn(Body):
    level: Literal[tuple(Level.values)] | None = None  # type: ignore[valid-type]
    department: str | None = None


class TransitionRequest(Body):
    """A transition of the loop and its fields (each transition reads the ones it needs; others pass)."""

    model_config = ConfigDict(extra="allow", strict=True)
    transition: Literal[tuple(sorted(TRANSITIONS))]  # type: ignore[valid-type]
    version: int | None = Field(None, description="the version you saw; 409 if the case moved on")
    reason: str | None = None
    comment: str | None = None
    result: str | None = None
    rating: int | None = Field(None, ge=1, le=5)
    hours: float | None = None
    into: str | None = None
    location: Location | None = None
    assignee: AssigneeIn | None = None
    attachments: list[int] | None = None


class Uploaded(Open):
    id: int
    url: str


class CaseFilters(Params):
    status: str | None = Field(None, description="comma-separated statuses")
    category: str | None = None
    light: Literal["green", "yellow", "red"] | None = None
    area: str | None = Field(None, pattern=AREA)
    since: str | None = Field(None, description="ISO 8601 (naive = local time)")
    until: str | None = None
    needs_placement: Literal["true", "false", "1", "0"] | None = None
    channel: ChannelName | None = None  # type: ignore[valid-type]
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=10**7)
    assignee: str | None = None


class OverdueFilters(Params):
    area: str | None = Field(None, pattern=AREA)
    limit: int = Field(100, ge=1, le=MAX_LIMIT)


class DetailQuery(Params):
    unmask: str | None = Field(None, description="reporter_contact: the contact in clear (audited)")


class StatsQuery(Params):
    group: Literal["grid", "community", "street", "district", "department"] = "street"
    since: str | None = None
    until: str | None = None
    format: Literal["json", "csv", "xlsx"] = "json"


# -- operations --------------------------------------------------------------------------------------
def _light_q(value: str, now: dt.datetime) -> Q:
    open_q = ~Q(status__in=FINAL_STATES)
    if value == "red":
        return open_q & Q(deadline__lt=now)
    yellow = open_q & Q(deadline__gte=now) & Q(yellow_from__lte=now)
    if value == "yellow":
        return yellow
    return open_q & ~Q(deadline__lt=now) & ~(Q(deadline__gte=now) & Q(yellow_from__lte=now))


def _related(qs):
    return qs.select_related("category", "department", "duplicate_of")


# Registered before /api/cases/{number}: Django takes the first route that matches.
@router.get(
    "stream",
    auth=None,  # the stream checks the login itself, inside the event loop (cases.live)
    response=responses(None, 401, 429),
    summary="实时推送 · new and changed cases of your jurisdiction (Server-Sent Events, never ends)",
    openapi_extra={
        "responses": {
            200: {
                "description": "an endless event stream: `event: case` with {op, number, status, grid_code, "
                "version} per change",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        }
    },
)
async def stream(request: HttpRequest):
    from .live import stream as live_stream

    return await live_stream(request)


@router.get("overdue", response=responses(Overdue, 401), summary="超期案件 · open cases past their deadline")
def overdue(request: HttpRequest, q: Query[OverdueFilters]):
    """Open cases past their deadline in the user's jurisdiction (optionally an `area` inside it)."""
    qs = visible_cases(request.user).exclude(status__in=FINAL_STATES).filter(deadline__lt=timezone.now())
    if q.area is not None:
        qs = qs.filter(grid_code__startswith=q.area)
    rows = _related(qs).order_by("deadline")[: q.limit]
    return {"count": qs.count(), "results": [case_json(c, request.user) for c in rows]}


@router.get(
    "stats",
    response=responses(Evaluation, 401),
    summary="考核评价 · evaluation per grid / community / street / district / department (JSON, CSV, XLSX)",
    openapi_extra={
        "responses": {
            200: {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}
                    },
                }
            }
        }
    },
)
def stats(request: HttpRequest, q: Query[StatsQuery]):
    from . import stats as evaluation

    since, until = evaluation.default_period()
    if q.since is not None:
        since = parse_time(q.since, "since")
    if q.until is not None:
        until = parse_time(q.until, "until")
    if until <= since or until - since > dt.timedelta(days=3660):
        raise CaseError(400, "时间范围无效", "since must be before until, within ten years")
    rows = evaluation.evaluate(request.user, q.group, since, until)
    if q.format == "json":
        return {"group": q.group, "since": since.isoformat(), "until": until.isoformat(), "rows": rows}
    name = f"evaluation-{q.group}-{since:%Y%m%d}-{until:%Y%m%d}"
    if q.format == "csv":
        response = HttpResponse(evaluation.to_csv(rows), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            evaluation.to_xlsx(rows, name),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{q.format}"'
    return response


@router.get(
    "", response=responses(CasePage, 401), summary="案件列表 · the cases of your jurisdiction, filtered"
)
def cases(request: HttpRequest, q: Query[CaseFilters]):
    now = timezone.now()
    qs = _related(visible_cases(request.user))
    # A filter that is present is checked even when empty: "status=" is a mistake, not "any status".
    if q.status is not None:
        statuses = q.status.split(",")
        if not set(statuses) <= set(CaseStatus.values):
            raise CaseError(400, "未知的状态", f"status must be among {', '.join(CaseStatus.values)}")
        qs = qs.filter(status__in=statuses)
    if q.category:
        qs = qs.filter(Q(category__code=q.category) | Q(category__parent__code=q.category))
    if q.channel is not None:
        qs = qs.filter(channel=q.channel)
    if q.area is not None:
        qs = qs.filter(grid_code__startswith=q.area)
    if q.assignee:
        qs = qs.filter(assignee_code=q.assignee[:32])
    if q.since is not None:
        qs = qs.filter(reported_at__gte=parse_time(q.since, "since"))
    if q.until is not None:
        qs = qs.filter(reported_at__lt=parse_time(q.until, "until"))
    if q.needs_placement is not None:
        qs = qs.filter(needs_placement=q.needs_placement in ("true", "1"))
    if q.light is not None:
        qs = qs.annotate(
            yellow_from=ExpressionWrapper(
                F("deadline") - (F("deadline") - F("step_started_at")) * 0.25, output_field=DurationField()
            )
        ).filter(_light_q(q.light, now))
    total = qs.count()
    page = qs.order_by("-reported_at", "-id")[q.offset : q.offset + q.limit]
    return {
        "count": total,
        "limit": q.limit,
        "offset": q.offset,
        "results": [case_json(c, request.user) for c in page],
    }


@router.post(
    "",
    response=responses(CaseDetail, 401, 413, 422, status=201, also={200: CaseDetail}),
    summary="上报案件 · report a case (200: the case this Idempotency-Key already made)",
)
def report(
    request: HttpRequest,
    body: CaseCreate,
    key: str | None = Header(None, alias="Idempotency-Key", max_length=100),
):
    user = request.user
    channel = body.channel or (Channel.GRID_WORKER if _is_worker(user) else Channel.HOTLINE)
    result = create_case(body.model_dump(exclude_unset=True), user, channel, key)
    if result.created:  # the case as stored (category loaded), with the one event and no attachments yet
        return Status(201, case_json(result.case, user, detail=True, events=[result.event], attachments=[]))
    return Status(200, case_json(_related(Case.objects).get(pk=result.case.pk), user, detail=True))


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


@router.get(
    "{str:number}",
    response=responses(CaseDetail, 401, 403, 404),
    summary="案件详情 · one case with its trail; unmask=reporter_contact shows the contact in clear to those "
    "who may call the reporter back (audited)",
)
def case_detail(request: HttpRequest, number: str, q: Query[DetailQuery]):
    from django.core.exceptions import PermissionDenied

    from layers.masking import reveal

    case = _visible_case(request, number)
    body = case_json(case, request.user, detail=True)
    if q.unmask:
        try:
            body.update(reveal(request, case, q.unmask.split(","), "api:case-detail"))
        except ValueError:
            raise CaseError(400, "unmask 只能是 reporter_contact", "unmask takes reporter_contact") from None
        except PermissionDenied:
            raise CaseError(
                403, "您无权查看上报人的联系方式", "you may not see the reporter's contact in clear"
            ) from None
    return body


@router.post(
    "{str:number}/transitions",
    response=responses(CaseDetail, 401, 403, 404, 409, 413, 422),
    summary="办理 · make a transition of the loop (version: the one you saw; 409 if the case moved on)",
)
def transitions(request: HttpRequest, number: str, body: TransitionRequest):
    data = body.model_dump(exclude_unset=True)
    name = data.pop("transition")
    version = data.pop("version", None)
    data.pop("name", None)
    case = apply_transition(number[:24], name, data, request.user, version)
    return case_json(_related(Case.objects).get(pk=case.pk), request.user, detail=True)


@router.post(
    "{str:number}/attachments",
    response=responses(Uploaded, 401, 403, 404, 413, 415, 422, status=201),
    summary="上传照片 · a photo for the case's next step (multipart field `file`; name its id in the next "
    "transition's attachments)",
)
@idempotent("case-attachment")
def upload_attachment(request: HttpRequest, number: str, file: File[UploadedFile]):
    """Only those who act on the case (a relation of the workflow table) add photos; reading is not enough."""
    from .services import relations

    case = _visible_case(request, number)
    if not relations(request.user, case):
        raise CaseError(403, "您不处理此案件，不能上传附件", "only those acting on the case may add photos")
    if file.size > MAX_UPLOAD:
        raise CaseError(413, "文件超过 10 MB", "the file is larger than 10 MB")
    if file.content_type not in IMAGE_TYPES:
        raise CaseError(415, "只接受 JPEG、PNG、WebP 图片", "only JPEG, PNG and WebP images are accepted")
    att = Attachment.objects.create(
        case=case, file=file, content_type=file.content_type, size=file.size, uploaded_by=request.user
    )
    return Status(201, {"id": att.pk, "url": f"/api/cases/{case.number}/attachments/{att.pk}"})


@router.get(
    "{str:number}/attachments/{int:pk}",
    response=responses(None, 401, 404),
    summary="照片 · an attachment of a case you may see",
    openapi_extra={
        "responses": {
            200: {
                "description": "the image",
                "content": {
                    t: {"schema": {"type": "string", "format": "binary"}} for t in sorted(IMAGE_TYPES)
                },
            }
        }
    },
)
def attachment(request: HttpRequest, number: str, pk: int):
    case = _visible_case(request, number)
    att = case.attachments.filter(pk=pk).first()
    if att is None:
        raise CaseError(404, "附件不存在", "no such attachment")
    return FileResponse(att.file.open("rb"), content_type=att.content_type)
