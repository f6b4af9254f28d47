"""Residents report a problem from the public map, without an account, and follow it by receipt number.

- `POST /api/public/reports` — JSON or multipart (for the photo): `category`, `description`, and where:
  `lon` + `lat` (a tapped point or the phone's location, `crs` as the geocoder accepts, EPSG:4490 by
  default) or `address`; optional `photo` (JPEG/PNG/WebP ≤ 10 MB) and `contact`.  The `Idempotency-Key`
  header (16–80 characters, e.g. a UUID the page makes once per form) turns a phone's resend into the
  same receipt.  Anonymous, channel `public`, through `cases.services.create_case` like every case.
  Rate-limited per client IP (gisapp.ratelimit, shared by all workers): 429 with `Retry-After`.
- `GET /api/public/reports/<number>` — the public status: number, category, open/closed and dates.
  Nothing else: no place, description, photo, handler or contact — a receipt number may be shared or
  guessed, so it must not reveal anything about a person.  Only cases filed through public channels are
  answered; internal cases (a grid worker's patrol, a hotline call) are 404 as if they did not exist.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status
from pydantic import Field

from gisapp import ratelimit
from gisapp.apikit import Body, Open, read_json, responses
from gisapp.views import error_json

from .errors import CaseError
from .models import Attachment, Case, CaseStatus
from .models.case import Channel
from .open311 import PUBLIC_CHANNELS
from .schemas import Location
from .services import create_case

MAX_PHOTO = 10 * 1024 * 1024
# What an image must start with, whatever the client claims its type is.
MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
KEY_PREFIX = "public:"  # public keys live in their own namespace: they can never return an internal case


router = Router(tags=["cases"], auth=None)  # anonymous: the reporter is never the logged-in user


class PublicReport(Body):
    """The public form's fields, as JSON or as a multipart form (with the photo)."""

    category: str | None = Field(None, description="an item code of the category dictionary")
    description: str | None = Field(None, max_length=2000)
    contact: str | None = Field(None, max_length=64)
    lon: float | str | None = Field(None, description="a tapped point or the phone's location")
    lat: float | str | None = None
    crs: str | None = Field(None, description="as the geocoder accepts; EPSG:4490 by default")
    location: Location | None = None
    address: str | None = Field(None, max_length=160)


class Receipt(Open):
    number: str
    category: str
    category_name: str
    status: Literal["open", "closed"]
    status_label: dict[str, str]
    reported_at: str
    closed_at: str | None


class Received(Receipt):
    placed: bool
    message: dict[str, str]


def _fields(request: HttpRequest) -> dict:
    """The report from a JSON body or a multipart form, as create_case's data dict."""
    if request.content_type == "application/json":
        source = read_json(request, 64 * 1024)
    else:
        source = {k: request.POST.get(k) for k in request.POST}
    raw = PublicReport.model_validate(source).model_dump(exclude_unset=True)
    data: dict = {
        "category": raw.get("category"),
        "description": raw.get("description") or "",
        "contact": raw.get("contact") or "",
    }
    location = raw.get("location")
    if location is None and raw.get("lon") not in (None, "") and raw.get("lat") not in (None, ""):
        location = {"lon": raw.get("lon"), "lat": raw.get("lat"), "crs": raw.get("crs") or "EPSG:4490"}
    if location is not None:
        data["location"] = location
    elif raw.get("address"):
        data["address"] = raw.get("address")
    return data


def _photo(request: HttpRequest):
    upload = request.FILES.get("photo")
    if upload is None:
        return None
    if upload.size > MAX_PHOTO:
        raise CaseError(413, "照片超过 10 MB", "the photo is larger than 10 MB")
    head = upload.read(12)
    upload.seek(0)
    kind = next((t for t, sigs in MAGIC.items() if any(head.startswith(s) for s in sigs)), None)
    if kind is None or (kind == "image/webp" and head[8:12] != b"WEBP"):
        raise CaseError(415, "照片只接受 JPEG、PNG、WebP", "the photo must be a JPEG, PNG or WebP image")
    return upload, kind


def _key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 16 <= len(key) <= 80 or not key.isprintable():
        raise CaseError(
            400, "Idempotency-Key 应为 16–80 个字符", "Idempotency-Key must be 16–80 printable characters"
        )
    # Hashed: the stored key is the namespace plus a digest, so the column never holds client text.
    return KEY_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:64]


def receipt(case: Case) -> dict:
    """The public view of a case: the receipt's number, category, open/closed and dates."""
    master = case.duplicate_of if case.status == CaseStatus.MERGED and case.duplicate_of_id else None
    # A merged report follows the case it was merged into: closed when that one is.
    effective = master or case
    closed = effective.status in (CaseStatus.CLOSED, CaseStatus.EVALUATED, CaseStatus.REJECTED)
    closed_at = effective.closed_at if closed else None
    return {
        "number": case.number,
        "category": case.category.code,
        "category_name": case.category.name,
        "status": "closed" if closed else "open",
        "status_label": {"zh": "已办结" if closed else "办理中", "en": "closed" if closed else "open"},
        "reported_at": timezone.localtime(case.reported_at).isoformat(),
        "closed_at": timezone.localtime(closed_at).isoformat() if closed_at else None,
    }


_REPORT_SCHEMA = PublicReport.model_json_schema(ref_template="#/components/schemas/{model}")
_REPORT_SCHEMA.pop("$defs", None)  # Location is in the document's components already (the case API's)
REPORT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": _REPORT_SCHEMA},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    **{
                        k: {"type": "string"}
                        for k in ("category", "description", "contact", "address", "crs")
                    },
                    "lon": {"type": "string"},
                    "lat": {"type": "string"},
                    "photo": {"type": "string", "format": "binary", "description": "JPEG/PNG/WebP ≤ 10 MB"},
                },
            }
        },
    },
}


@router.post(
    "reports",
    response=responses(Received, 413, 415, 422, 429, status=201, also={200: Received}),
    summary="群众上报 · report a problem without an account (JSON, or multipart with a photo); 200: the "
    "receipt this Idempotency-Key already made",
    openapi_extra={"requestBody": REPORT_BODY},
)
def reports(request: HttpRequest):
    """The body is read here (JSON or a form, then the PublicReport schema), after the rate limit."""
    refusal = ratelimit.refused(request, "public_report")
    if refusal is not None:
        return refusal
    try:
        data = _fields(request)
        photo = _photo(request)
        with transaction.atomic():
            result = create_case(data, None, Channel.PUBLIC, _key(request))
            case = result.case
            if photo is not None and result.created:
                upload, kind = photo
                event = case.events.order_by("id").first()
                Attachment.objects.create(
                    case=case, event=event, file=upload, content_type=kind, size=upload.size
                )
    except CaseError as exc:
        return exc.response()
    case = Case.objects.select_related("category").get(pk=case.pk)
    body = receipt(case)
    body["placed"] = not case.needs_placement
    body["message"] = {
        "zh": f"已受理，回执编号 {case.number}，可凭编号查询办理进度",
        "en": f"received; your receipt number is {case.number}: use it to follow the case",
    }
    return Status(201 if result.created else 200, body)


@router.api_operation(
    ["GET", "HEAD"],
    "reports/{str:number}",
    response=responses(Receipt, 404, 429),
    summary="回执查询 · a public report's status by receipt number (nothing about the place or people)",
)
def report_status(request: HttpRequest, number: str):
    refusal = ratelimit.refused(request, "public_status")
    if refusal is not None:
        return refusal
    case = (
        Case.objects.select_related("category", "duplicate_of")
        .filter(number=number[:24], channel__in=PUBLIC_CHANNELS)
        .first()
    )
    if case is None:
        return error_json(404, "没有这个回执编号", "no such receipt number")
    return receipt(case)
