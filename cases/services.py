"""Receiving cases and moving them through the loop; every change lands with its trail row, or nothing does.

Views, Open311, batch imports and the field page all call `create_case` and `apply_transition`: there is
one way to make a case and one way to change it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from gisapp.accounts.jurisdiction import jurisdiction_of, scope
from gisapp.accounts.models import Department, Role

from . import placement as placing
from . import routing
from .deadlines import deadline_for
from .errors import CaseError
from .models import Attachment, Case, CaseEvent, Category, Channel
from .models.calendar import Step
from .models.case import FINAL_STATES, Level, Severity
from .workflow import TRANSITIONS

MAX_DESCRIPTION = 2000
DUPLICATE_DISTANCE_M = getattr(settings, "ONENET_DUPLICATE_DISTANCE_M", 50)
DUPLICATE_HOURS = getattr(settings, "ONENET_DUPLICATE_HOURS", 72)


# ------------------------------------------------------------------------------------------ who is who
def _profile(user):
    return getattr(user, "profile", None) if user is not None and user.is_authenticated else None


def visible_cases(user) -> QuerySet:
    """Cases `user` may see: their jurisdiction, their department's, what they reported, and — for
    district-level dispatchers — cases not placed yet (the "place me" queue has no grid to scope by)."""
    qs = Case.objects.all()
    if user is None or not user.is_authenticated:
        return qs.none()
    j = jurisdiction_of(user)
    if j.everything:
        return qs
    visible = scope(qs, user) | qs.filter(reporter=user)
    if j.sees_unplaced:
        visible = visible | qs.filter(grid_code="")
    return visible


def relations(user, case: Case) -> set[str]:
    """How `user` stands to `case`: the `actors` column of the workflow table is made of these words."""
    rel: set[str] = set()
    profile = _profile(user)
    if user is not None and user.is_authenticated and case.reporter_id == user.pk:
        rel.add("reporter")
    if profile is None:
        if user is not None and user.is_authenticated and user.is_superuser:
            return {"dispatcher", "assignee", "checker", "reporter", "grid_worker_here"}
        return rel
    j = jurisdiction_of(user)
    covers = j.everything or (bool(j.prefix) and case.grid_code.startswith(j.prefix))
    if profile.role == Role.ADMIN:
        return {"dispatcher", "assignee", "checker", "reporter", "grid_worker_here"}
    if profile.role == Role.DISPATCHER and (covers or (not case.grid_code and j.sees_unplaced)):
        rel |= {"dispatcher", "checker"}
    if profile.role == Role.GRID_WORKER and case.grid_code and profile.jurisdiction_code == case.grid_code:
        rel |= {"grid_worker_here", "checker"}
    # The assignee: the level the case is dispatched to, or its department.
    if case.assignee_level == Level.DEPARTMENT:
        if (
            profile.role == Role.DEPARTMENT
            and case.department_id
            and profile.department_id == case.department_id
        ):
            rel.add("assignee")
    elif case.assignee_level == Level.GRID:
        if profile.role == Role.GRID_WORKER and profile.jurisdiction_code == case.assignee_code:
            rel.add("assignee")
    elif case.assignee_level and profile.role == Role.DISPATCHER and j.prefix is not None:
        if case.assignee_code.startswith(j.prefix) or j.everything:
            rel.add("assignee")
    return rel


# ------------------------------------------------------------------------------------------ receiving
def _next_number(now: dt.datetime) -> str:
    with connection.cursor() as cur:
        cur.execute("select nextval('cases_number_seq')")
        seq = cur.fetchone()[0]
    return f"AJ{timezone.localtime(now):%Y%m%d}{seq % 1_000_000:06d}"


def _category(code) -> Category:
    if not isinstance(code, str) or not code:
        raise CaseError(400, "需要案件类别代码", "category (a category code) is required")
    cat = Category.objects.select_related("parent").filter(code=code[:16]).first()
    if cat is None:
        raise CaseError(400, "未知的案件类别", f"unknown category: {code[:16]}")
    if cat.parent_id is None:
        raise CaseError(400, "请选择具体的小类", f"{code} is a class; choose one of its items")
    return cat


def duplicate_candidates(case: Case) -> QuerySet:
    """Open cases of the same category close in space and time: what a dispatcher may merge."""
    if case.geom is None:
        return Case.objects.none()
    since = case.reported_at - dt.timedelta(hours=DUPLICATE_HOURS)
    return (
        Case.objects.filter(
            category_id=case.category_id, reported_at__gte=since, reported_at__lte=case.reported_at
        )
        .exclude(pk=case.pk)
        .exclude(status__in=FINAL_STATES)
        # index-friendly box in degrees first (1e-5° ≤ 1.2 m here), then the exact distance on the sphere
        .filter(geom__dwithin=(case.geom, DUPLICATE_DISTANCE_M * 1.2e-5 * 2))
        .filter(geom__distance_lte=(case.geom, D(m=DUPLICATE_DISTANCE_M)))
        .order_by("-reported_at")
    )


def _keyed(key: str, user) -> Case | None:
    """The case an earlier request with this key made — only if the same reporter made it: a key is not a
    way to read somebody else's case (anonymous channels namespace their keys themselves)."""
    existing = Case.objects.filter(idempotency_key=key).first()
    if existing is None:
        return None
    reporter = user.pk if user is not None and user.is_authenticated else None
    if existing.reporter_id != reporter:
        raise CaseError(
            422,
            "该 Idempotency-Key 已被其他用户使用，请换一个",
            "this Idempotency-Key was already used by someone else; make a new one",
        )
    return existing


@dataclass
class NewCase:
    case: Case
    created: bool
    event: CaseEvent | None = None  # the report event written for a new case (None for a retried key)


def create_case(data: dict, user, channel: str, idempotency_key: str | None = None) -> NewCase:
    """Validate, place, number and store a report; the same idempotency key always gives the same case."""
    if idempotency_key is not None:
        if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= 100:
            raise CaseError(400, "Idempotency-Key 长度应为 1–100", "Idempotency-Key must be 1–100 characters")
        existing = _keyed(idempotency_key, user)
        if existing is not None:
            return NewCase(existing, False)
    if not isinstance(data, dict):
        raise CaseError(400, "请求体应为 JSON 对象", "the body must be a JSON object")
    category = _category(data.get("category"))
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise CaseError(
            400,
            f"描述应为不超过 {MAX_DESCRIPTION} 字的文本",
            f"description must be text of at most {MAX_DESCRIPTION} characters",
        )
    if channel not in Channel.values:
        raise CaseError(400, "未知的来源渠道", f"unknown channel: {channel}")
    location, address = data.get("location"), data.get("address")
    if location is None and not address:
        raise CaseError(
            400, "需要位置（location）或地址（address）", "either location or address is required"
        )
    if address is not None and (not isinstance(address, str) or len(address) > 160):
        raise CaseError(400, "地址应为不超过 160 字的文本", "address must be text of at most 160 characters")
    contact = data.get("contact", "")
    if not isinstance(contact, str) or len(contact) > 64:
        raise CaseError(400, "联系方式过长", "contact must be text of at most 64 characters")
    if location is not None:
        place = placing.locate(placing.to_cgcs2000(location))
        place.confidence = 1.0
    else:
        place = placing.from_address(address)
    now = timezone.now()
    case = Case(
        category=category,
        severity=category.default_severity or Severity.SMALL,
        channel=channel,
        description=description.strip(),
        address=(address or place.address or "")[:160],
        reported_at=now,
        geom=place.point,
        grid_code=place.grid_code,
        grids=place.grids,
        building_id=place.building_id,
        needs_placement=not place.placed,
        placement_confidence=place.confidence,
        reporter=user if user is not None and user.is_authenticated else None,
        reporter_contact=contact.strip(),
        idempotency_key=idempotency_key,
        step_started_at=now,
    )
    case.deadline = deadline_for(category, Step.REGISTER, now)
    try:
        with transaction.atomic():
            case.number = _next_number(now)
            case.save()
            candidates = list(duplicate_candidates(case).values_list("number", flat=True)[:10])
            case.duplicate_numbers = candidates
            event = CaseEvent.objects.create(
                case=case,
                at=now,
                actor=case.reporter,
                actor_role=_role(user),
                action="report",
                to_status=case.status,
                geom=place.point,
                changes={
                    "channel": channel,
                    "placed": place.placed,
                    "confidence": place.confidence,
                    "duplicate_candidates": candidates,
                },
            )
    except IntegrityError:
        # Two retries with the same key raced: the first one won, return it.
        if idempotency_key is not None:
            existing = _keyed(idempotency_key, user)
            if existing is not None:
                return NewCase(existing, False)
        raise
    return NewCase(case, True, event)


def _role(user) -> str:
    profile = _profile(user)
    if profile is not None:
        return profile.role
    return "public" if user is None or not user.is_authenticated else ""


# ------------------------------------------------------------------------------------------ the loop
def apply_transition(
    number: str, name: str, payload: dict, user, expected_version: int | None = None
) -> Case:
    """Make one transition of the workflow table; refused transitions raise CaseError and write nothing."""
    if not isinstance(payload, dict):
        raise CaseError(400, "请求体应为 JSON 对象", "the body must be a JSON object")
    t = TRANSITIONS.get(name) if isinstance(name, str) else None
    if t is None:
        raise CaseError(
            400, "未知的操作", f"unknown transition: {str(name)[:40]}", allowed=sorted(TRANSITIONS)
        )
    with transaction.atomic():
        case = (
            visible_cases(user)
            .select_for_update(of=("self",))
            .select_related("category", "category__parent")
            .filter(number=number)
            .first()
        )
        if case is None:
            raise CaseError(404, "案件不存在或无权查看", "no such case, or not yours to see")
        if expected_version is not None and expected_version != case.version:
            raise CaseError(
                409,
                "案件已被他人更新，请刷新后重试",
                f"stale update: the case is at version {case.version}, not {expected_version}",
                version=case.version,
            )
        if case.status not in t.sources:
            raise CaseError(
                409,
                f"当前状态（{case.get_status_display()}）不能进行该操作",
                f"'{name}' is not allowed from status '{case.status}'",
            )
        rel = relations(user, case)
        if not rel & set(t.actors):
            raise CaseError(403, "无权进行该操作", f"'{name}' is for {', '.join(t.actors)} of this case")
        missing = [f for f in t.requires if payload.get(f) in (None, "", [], {})]
        if missing:
            raise CaseError(400, f"缺少必填项：{', '.join(missing)}", f"missing: {', '.join(missing)}")
        before = {f: getattr(case, f) for f in _TRACKED}
        now = timezone.now()
        from_status = case.status
        extra = HANDLERS[name](case, payload, user, now) or {}
        if t.target is not None:
            case.status = t.target
        if t.step is not None:
            case.step_started_at = now
            case.deadline = deadline_for(case.category, t.step, now)
        if case.status in FINAL_STATES:
            case.deadline = None
        case.version += 1
        case.save()
        changes = {
            f: [_plain(before[f]), _plain(getattr(case, f))]
            for f in _TRACKED
            if before[f] != getattr(case, f)
        }
        event = CaseEvent.objects.create(
            case=case,
            at=now,
            actor=user if user.is_authenticated else None,
            actor_role=_role(user),
            action=name,
            from_status=from_status,
            to_status=case.status,
            changes={**changes, **extra},
            comment=str(payload.get("reason") or payload.get("comment") or "")[:2000],
            geom=_actor_point(payload),
        )
        _attach(case, event, payload, user)
        if name == "close":
            _tell_merged(case, now, user)
    return case


_TRACKED = (
    "status",
    "category_id",
    "severity",
    "assignee_level",
    "assignee_code",
    "department_id",
    "deadline",
    "due_at",
    "grid_code",
    "building_id",
    "duplicate_of_id",
    "rating",
    "extensions",
    "extension_requested_hours",
    "reworks",
    "escalations",
    "needs_placement",
)


def _plain(value):
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _actor_point(payload: dict) -> Point | None:
    where = payload.get("actor_location")
    if not where:
        return None
    try:
        return placing.to_cgcs2000(where)
    except CaseError:
        return None


def _attach(case: Case, event: CaseEvent, payload: dict, user) -> None:
    ids = payload.get("attachments") or []
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise CaseError(400, "attachments 应为附件编号列表", "attachments must be a list of attachment ids")
    n = Attachment.objects.filter(pk__in=ids, case=case, event__isnull=True).update(event=event)
    if n != len(set(ids)):
        raise CaseError(400, "附件不存在或已使用", "unknown or already used attachment ids")


def _tell_merged(case: Case, now: dt.datetime, user) -> None:
    """Reporters of cases merged into this one get its outcome (and the trail says so)."""
    for merged in case.merged_cases.select_for_update():
        merged.result = f"已随案件 {case.number} 办结：{case.result}"[:2000]
        merged.closed_at = now
        merged.version += 1
        merged.save(update_fields=["result", "closed_at", "version", "updated_at"])
        CaseEvent.objects.create(
            case=merged,
            at=now,
            actor=user if user.is_authenticated else None,
            actor_role=_role(user),
            action="outcome",
            from_status=merged.status,
            to_status=merged.status,
            changes={"master": case.number},
        )


# -- one handler per transition: each changes the case and may return extra trail data ---------------
def _register(case: Case, p: dict, user, now) -> dict:
    if p.get("category"):
        case.category = _category(p["category"])
    if p.get("severity"):
        if p["severity"] not in Severity.values:
            raise CaseError(400, "未知的等级", f"severity must be one of {', '.join(Severity.values)}")
        case.severity = p["severity"]
    case.registered_at = now
    return {}


def _reject(case, p, user, now):
    case.closed_at = now


def _merge(case: Case, p: dict, user, now) -> dict:
    into = visible_cases(user).filter(number=str(p["into"])[:24]).first()
    if into is None or into.pk == case.pk:
        raise CaseError(400, "合并目标不存在", "the case to merge into does not exist")
    if not into.is_open:
        raise CaseError(409, "合并目标已办结", "the case to merge into is no longer open")
    case.duplicate_of = into
    case.closed_at = now
    return {"into": into.number}


def _assign(case: Case, level: str, code: str, department: Department | None) -> None:
    case.assignee_level, case.assignee_code, case.department = level, code, department


def _dispatch(case: Case, p: dict, user, now) -> dict:
    if not case.grid_code:
        raise CaseError(
            409, "案件尚未定位，请先在地图上定位", "place the case on the map before dispatching it"
        )
    route, department = routing.suggest(case)
    target = p.get("assignee") or {}
    if not isinstance(target, dict):
        raise CaseError(400, "assignee 应为对象 {level, department}", "assignee must be an object")
    level = target.get("level") or route.acts_at
    if level not in Level.values:
        raise CaseError(400, "未知的处置层级", f"level must be one of {', '.join(Level.values)}")
    if level == Level.DEPARTMENT:
        if target.get("department"):
            department = Department.objects.filter(code=str(target["department"])[:32]).first()
            if department is None:
                raise CaseError(400, "未知的职能部门", "unknown department")
        if department is None:
            raise CaseError(400, "需要指定职能部门", "a department is required")
        _assign(case, level, department.code, department)
    else:
        _assign(case, level, routing.Route(level, "", "", "").assignee_code(case.grid_code), None)
    case.dispatched_at = now
    handle = deadline_for(case.category, Step.HANDLE, deadline_for(case.category, Step.ACCEPT, now))
    case.due_at = handle
    return {
        "suggested": {
            "level": route.acts_at,
            "department": department.code if department else None,
            "principle": route.principle,
            "note": route.note,
        },
        "followed_suggestion": level == route.acts_at,
    }


def _accept(case, p, user, now):
    return None


def _return(case: Case, p: dict, user, now) -> dict:
    previous = {"level": case.assignee_level, "code": case.assignee_code}
    _assign(case, "", "", None)
    return {"returned_by": previous}


def _escalate(case: Case, p: dict, user, now) -> dict:
    up = routing.escalate_target(case.assignee_level)
    if up is None:
        raise CaseError(409, "已是最高层级，无法继续上报", "already at the top level")
    previous = {"level": case.assignee_level, "code": case.assignee_code}
    _assign(case, up, routing.Route(up, "", "", "").assignee_code(case.grid_code), None)
    case.escalations += 1
    return {"escalated_from": previous}


def _request_extension(case: Case, p: dict, user, now) -> dict:
    try:
        hours = float(p["hours"])
    except (TypeError, ValueError):
        hours = -1
    if not 0 < hours <= 240:
        raise CaseError(
            400, "延期时长应在 0–240 工作小时之间", "hours must be between 0 and 240 working hours"
        )
    if case.extension_requested_hours:
        raise CaseError(409, "已有待审批的延期申请", "an extension request is already pending")
    case.extension_requested_hours = hours
    return {"hours": hours}


def _grant_extension(case: Case, p: dict, user, now) -> dict:
    hours = case.extension_requested_hours
    if not hours:
        raise CaseError(409, "没有待审批的延期申请", "no extension request is pending")
    from .calendar import active_calendar, add_working_hours

    cal, _preset = active_calendar()
    case.deadline = add_working_hours(case.deadline or now, hours, cal)
    case.due_at = add_working_hours(case.due_at or now, hours, cal)
    case.extensions += 1
    case.extension_requested_hours = None
    return {"hours": hours}


def _deny_extension(case: Case, p: dict, user, now) -> dict:
    if not case.extension_requested_hours:
        raise CaseError(409, "没有待审批的延期申请", "no extension request is pending")
    case.extension_requested_hours = None
    return {}


def _handle(case: Case, p: dict, user, now) -> dict:
    case.result = str(p["result"])[:2000]
    case.handled_at = now
    return {}


def _close(case: Case, p: dict, user, now) -> dict:
    case.closed_at = now
    return {"on_time": case.due_at is None or now <= case.due_at}


def _rework(case: Case, p: dict, user, now) -> dict:
    case.reworks += 1
    case.handled_at = None
    return {}


def _resolve_on_spot(case: Case, p: dict, user, now) -> dict:
    case.result = str(p["result"])[:2000]
    _assign(case, Level.GRID, case.grid_code, None)
    case.registered_at = case.dispatched_at = case.handled_at = case.closed_at = now
    case.due_at = now
    return {"on_spot": True}


def _evaluate(case: Case, p: dict, user, now) -> dict:
    try:
        rating = int(p["rating"])
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise CaseError(400, "评分应为 1–5", "rating must be an integer from 1 to 5")
    case.rating = rating
    return {}


def _comment(case, p, user, now):
    if not isinstance(p["comment"], str) or len(p["comment"]) > 2000:
        raise CaseError(
            400, "备注应为不超过 2000 字的文本", "comment must be text of at most 2000 characters"
        )


def _relocate(case: Case, p: dict, user, now) -> dict:
    place = placing.locate(placing.to_cgcs2000(p["location"]))
    case.geom, case.grids, case.grid_code = place.point, place.grids, place.grid_code
    case.building_id = place.building_id
    case.needs_placement = False
    case.placement_confidence = 1.0
    return {}


HANDLERS = {
    "register": _register,
    "reject": _reject,
    "merge": _merge,
    "dispatch": _dispatch,
    "accept": _accept,
    "return": _return,
    "escalate": _escalate,
    "request_extension": _request_extension,
    "grant_extension": _grant_extension,
    "deny_extension": _deny_extension,
    "handle": _handle,
    "close": _close,
    "rework": _rework,
    "resolve_on_spot": _resolve_on_spot,
    "evaluate": _evaluate,
    "comment": _comment,
    "relocate": _relocate,
}
assert set(HANDLERS) == set(TRANSITIONS), "every transition of the table needs its handler"
