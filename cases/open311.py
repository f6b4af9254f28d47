"""Open311 GeoReport v2 at /open311/v2/: services, requests (GET, POST) and requests/{id}, JSON and XML.

Our categories are the services (items of the dictionary, grouped by their class), the case number is the
service_request_id, and our states map to open/closed.  Filing needs an API key (Open311Client); reading
is public, but without a key only cases filed by the public are listed, never anyone's contact, and
without their free text (description, notes): residents write names and phone numbers into it, and
nobody has read it before it would be published (docs/SECURITY.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from xml.etree.ElementTree import Element, SubElement, tostring

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Form, Query, Router
from pydantic import BaseModel, ConfigDict, Field

from gisapp import ratelimit
from gisapp.accounts.models import hash_token
from gisapp.apikit import IDEMPOTENCY_KEY

from .errors import CaseError
from .models import Case, Category, Open311Client
from .models.case import FINAL_STATES, Channel
from .services import create_case

PUBLIC_CHANNELS = (Channel.OPEN311, Channel.PUBLIC, Channel.WEB, Channel.WECHAT)
MAX_RESULTS = 1000

# Open311 answers in the format the path names (a JSON array or an XML document) and refuses with a
# GeoReport error list in that format, so its operations document their own answers rather than the
# API's error schema; a path naming no format (requests.txt) gets the API's JSON error.
router = Router(tags=["open311"], auth=None)  # reads are public; filing takes an api_key, not a session
ROWS = {
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    "text/xml": {"schema": {"type": "string"}},
}
ERRORS = {
    status: {
        "description": "GeoReport v2 error list, or the API's error for an unknown format",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": {"type": "object"}},
                        {"$ref": "#/components/schemas/Error"},
                    ]
                }
            },
            "text/xml": {"schema": {"type": "string"}},
        },
    }
    for status in (400, 403, 404, 405, 413, 422, 429, 503)
}


def _answers(ok: dict, **more: dict) -> dict:
    return {"responses": {200: ok, **{int(k): v for k, v in more.items()}, **ERRORS}}


class GeoReportQuery(BaseModel):
    """GeoReport v2 parameters; clients send extensions of their own (jurisdiction_id …), read or not."""

    model_config = ConfigDict(extra="allow")
    api_key: str | None = Field(None, description="an unknown key reads like no key: public channels only")
    jurisdiction_id: str | None = None


class RequestsQuery(GeoReportQuery):
    service_request_id: str | None = Field(None, description="comma-separated")
    service_code: str | None = Field(None, description="comma-separated")
    status: str | None = Field(None, description="open or closed")
    start_date: str | None = Field(None, description="ISO 8601 (w3) date-time")
    end_date: str | None = None


class RequestForm(BaseModel):
    """A filed request (application/x-www-form-urlencoded, as GeoReport v2 posts)."""

    model_config = ConfigDict(extra="allow")
    api_key: str | None = Field(None, max_length=200)
    service_code: str | None = None
    description: str | None = None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    phone: str | None = None
    email: str | None = None


def _render(data, fmt: str, root: str, item: str, status: int = 200) -> HttpResponse:
    if fmt == "json":
        return JsonResponse(data, safe=False, status=status, json_dumps_params={"ensure_ascii": False})
    top = Element(root)
    for row in data:
        node = SubElement(top, item)
        for key, value in row.items():
            child = SubElement(node, key)
            if isinstance(value, bool):
                child.text = "true" if value else "false"
            elif value is not None:
                child.text = str(value)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + tostring(top, encoding="utf-8")
    return HttpResponse(body, content_type="text/xml; charset=utf-8", status=status)


def _error(fmt: str, status: int, description: str) -> HttpResponse:
    return _render([{"code": status, "description": description}], fmt, "errors", "error", status)


def _fmt(fmt: str) -> str:
    """The path's format; for any other there is no format to answer in, so the refusal is the API's
    own JSON error (raised: the API layer renders it)."""
    if fmt not in ("json", "xml"):
        raise CaseError(404, "格式应为 json 或 xml", "format must be .json or .xml")
    return fmt


def _client(request) -> Open311Client | None:
    key = request.POST.get("api_key") or request.GET.get("api_key")
    if not key:
        return None
    return Open311Client.objects.filter(key_hash=hash_token(key[:200]), active=True).first()


def _iso(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


@router.get(
    "services.{str:fmt}",
    response={200: None},
    summary="Open311 services (our category items)",
    openapi_extra=_answers({"description": "services", "content": ROWS}),
)
def services(request: HttpRequest, fmt: str, q: Query[GeoReportQuery]):
    fmt = _fmt(fmt)
    rows = [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": c.name_en,
            "metadata": False,
            "type": "realtime",
            "keywords": c.name_en,
            "group": c.parent.name,
        }
        for c in Category.objects.filter(parent__isnull=False).select_related("parent").order_by("code")
    ]
    return _render(rows, fmt, "services", "service")


def _request_row(case: Case, free_text: bool = True) -> dict:
    notes = (case.result or "") if free_text else ""
    if case.duplicate_of_id:
        notes = f"已合并至 {case.duplicate_of.number}. {notes}".strip()
    return {
        "service_request_id": case.number,
        "status": "closed" if case.status in FINAL_STATES else "open",
        "status_notes": notes,
        "service_name": case.category.name,
        "service_code": case.category.code,
        "description": case.description if free_text else "",
        "agency_responsible": case.department.name if case.department_id else (case.assignee_code or ""),
        "service_notice": "",
        "requested_datetime": _iso(case.reported_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.due_at),
        "address": case.address,
        "address_id": case.building_id,
        "zipcode": "",
        "lat": case.geom.y if case.geom else None,
        "long": case.geom.x if case.geom else None,
        "media_url": "",
    }


def _readable(request) -> tuple[object, bool]:
    """The cases this reader may list, and whether it may read their free text (API-key clients)."""
    qs = Case.objects.select_related("category", "department", "duplicate_of")
    if _client(request) is not None:
        return qs, True
    return qs.filter(channel__in=PUBLIC_CHANNELS), False


@router.get(
    "requests.{str:fmt}",
    response={200: None},
    summary="Open311 requests (public channels only, without their free text, unless an api_key is given)",
    openapi_extra=_answers({"description": "requests", "content": ROWS}),
)
def requests_(request: HttpRequest, fmt: str, q: Query[RequestsQuery]):
    fmt = _fmt(fmt)
    if _client(request) is None:  # anonymous reads are counted per address, like the public map's
        verdict = ratelimit.hit(request, "public_lookup")
        if not verdict.allowed:
            response = _error(fmt, 429, f"too many requests; try again in {verdict.retry_after} s")
            response["Retry-After"] = str(verdict.retry_after)
            return response
    qs, free_text = _readable(request)
    g = request.GET
    try:
        if g.get("service_request_id"):
            qs = qs.filter(number__in=[n.strip() for n in g["service_request_id"].split(",")][:MAX_RESULTS])
        if g.get("service_code"):
            qs = qs.filter(category__code__in=g["service_code"].split(","))
        if g.get("status") in ("open", "closed"):
            closed = qs.filter(status__in=FINAL_STATES)
            qs = closed if g["status"] == "closed" else qs.exclude(status__in=FINAL_STATES)
        elif "status" in g:
            return _error(fmt, 400, "status must be open or closed")
        end = _time(g.get("end_date")) or timezone.now()
        start = _time(g.get("start_date")) or end - dt.timedelta(days=90)
    except (ValueError, OverflowError):  # OverflowError: 90 days before 0001-01-01
        return _error(fmt, 400, "start_date and end_date must be ISO 8601 (w3) date-times")
    qs = qs.filter(reported_at__gte=start, reported_at__lte=end).order_by("-reported_at")[:MAX_RESULTS]
    return _render([_request_row(c, free_text) for c in qs], fmt, "service_requests", "request")


def _time(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    parsed = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
    try:
        return parsed.astimezone(dt.UTC)  # PostgreSQL refuses offsets past ±16 h that Python accepts
    except OverflowError:
        raise ValueError(value) from None


def _key(request, client: Open311Client) -> str | None:
    """The client's Idempotency-Key in the client's own namespace (hashed): one client's key can never
    return another client's, or an internal, case."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 100:
        raise CaseError(400, "Idempotency-Key 长度应为 1–100", "Idempotency-Key must be 1–100 characters")
    return f"open311:{client.pk}:" + hashlib.sha256(key.encode()).hexdigest()[:64]


@router.post(
    "requests.{str:fmt}",
    response={200: None},
    summary="Open311 file a request (needs an api_key; Idempotency-Key honoured per client)",
    openapi_extra={
        "parameters": [IDEMPOTENCY_KEY],
        **_answers(
            {"description": "the request this key already filed", "content": ROWS},
            **{"201": {"description": "filed", "content": ROWS}},
        ),
    },
)
def file_request(request: HttpRequest, fmt: str, form: Form[RequestForm]):
    fmt = _fmt(fmt)
    client = _client(request)
    if client is None:
        return _error(fmt, 403, "a valid api_key is required to file requests")
    p = form.model_dump(exclude_none=True)
    data: dict = {"category": p.get("service_code"), "description": p.get("description", "")}
    if p.get("lat") or p.get("long"):
        data["location"] = {"lon": p.get("long"), "lat": p.get("lat"), "crs": "EPSG:4326"}
    elif p.get("address_string"):
        data["address"] = p["address_string"]
    contact = p.get("phone") or p.get("email") or ""
    data["contact"] = contact[:64]
    try:
        result = create_case(data, None, Channel.OPEN311, _key(request, client))
    except CaseError as exc:
        return _error(fmt, exc.status, exc.en)
    row = {"service_request_id": result.case.number, "service_notice": "", "account_id": ""}
    return _render([row], fmt, "service_requests", "request", 201 if result.created else 200)


@router.get(
    "requests/{str:number}.{str:fmt}",
    response={200: None},
    summary="Open311 one request",
    openapi_extra=_answers({"description": "the request", "content": ROWS}),
)
def request_detail(request: HttpRequest, number: str, fmt: str, q: Query[GeoReportQuery]):
    fmt = _fmt(fmt)
    qs, free_text = _readable(request)
    case = qs.filter(number=number[:24]).first()
    if case is None:
        return _error(fmt, 404, f"no request {number[:24]}")
    return _render([_request_row(case, free_text)], fmt, "service_requests", "request")
