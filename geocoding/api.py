"""The geocoder's HTTP API: /api/geocode, /api/reverse, /api/geocode/batch (a ninja router).

Geocoding and reverse lookup are public, like the buildings layer they read (rate-limited per address
for anonymous callers, gisapp.ratelimit); batch jobs need a login (session or bearer token) and are
visible to their owner and to administrators only.  Errors are the project's one shape, with extra keys
(such as a swapped-axes hint) beside it.
"""

from __future__ import annotations

import uuid
from typing import Literal

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Status
from pydantic import Field

from gisapp import ratelimit
from gisapp.accounts.jurisdiction import jurisdiction_of
from gisapp.apikit import LOGIN, Open, Params, idempotent, responses
from gisapp.errors import ApiError
from gisapp.views import error_json as error

from . import batch
from . import crs as crsmod
from .geocoder import InvalidQuery, geocode_many, validate
from .models import GeocodeJob, JobStatus
from .reverse import ReverseError, parse_point, reverse

router = Router(tags=["geocoding"])

ACCEPTED_CRS = "EPSG:4490（默认）、EPSG:4326、EPSG:3857、EPSG:4491–4554（CGCS2000 高斯-克吕格）、GCJ02、BD09"
ACCEPTED_CRS_EN = (
    "EPSG:4490 (default), EPSG:4326, EPSG:3857, EPSG:4491-4554 (CGCS2000 Gauss-Kruger), GCJ02, BD09"
)
CRS = Field(None, max_length=80, description=ACCEPTED_CRS_EN)
LEVELS = Literal["room", "building", "door", "road", "community", "street", "district", "city"]


class GeocodeQuery(Params):
    q: str | None = Field(None, max_length=200, description="the address as typed")
    crs: str | None = CRS
    limit: int = Field(5, ge=1, le=10)


class ReverseQuery(Params):
    lon: str | None = Field(None, description="a number (the axes swapped: 422 with hint)")
    lat: str | None = Field(None, description="a number")
    crs: str | None = CRS
    date: str | None = Field(None, description="YYYY-MM-DD: the boundaries in force at the end of that day")


class BatchQuery(Params):
    crs: str | None = CRS
    column: str | None = Field(None, description="the CSV column holding the address")


class Explain(Open):
    zh: str
    en: str


class GeocodeCandidate(Open):
    building_id: int | None = None
    address: str
    lon: float
    lat: float
    crs: str
    level: LEVELS  # type: ignore[valid-type]
    confidence: float = Field(ge=0, le=1)
    grid_code: str | None = None
    grids: dict[str, str] = {}
    explain: Explain | None = None


class GeocodeResult(Open):
    query: str
    normalized: str
    crs: str
    candidates: list[GeocodeCandidate]


class Nearest(Open):
    building_id: int | None
    address: str | None
    grid_code: str | None
    distance_m: float


class ReverseResult(Open):
    lon: float
    lat: float
    crs: str
    lon_cgcs2000: float
    lat_cgcs2000: float
    grid_code: str | None
    grids: dict[str, str]
    admin: list | dict
    nearest: Nearest | None


class JobProgress(Open):
    id: uuid.UUID
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    total: int
    done: int
    matched: int
    failed: int
    progress: float


class JobAnswer(Open):
    job: JobProgress


class Deleted(Open):
    deleted: str


def _crs(value: str | None) -> crsmod.RefSystem:
    try:
        return crsmod.parse_crs(value)
    except crsmod.CRSError:
        raise ApiError(
            400,
            f"不支持的坐标系“{str(value)[:40]}”，可用：{ACCEPTED_CRS}",
            f"unsupported crs {str(value)[:40]!r}; accepted: {ACCEPTED_CRS_EN}",
        ) from None


@router.api_operation(
    ["GET", "HEAD"],
    "geocode",
    auth=None,
    response=responses(GeocodeResult, 429),
    summary="地址 → 楼栋与网格 / address → building and grids",
)
def geocode(request: HttpRequest, params: Query[GeocodeQuery]):
    refusal = ratelimit.refused(request, "public_lookup", anonymous_only=True)
    if refusal is not None:
        return refusal
    system = _crs(params.crs)
    try:
        q = validate(params.q)
    except InvalidQuery as exc:
        return error(400, exc.zh, exc.en)
    body = geocode_many([q], system, limit=params.limit, validated=True)[0].as_dict()
    body["crs"] = system.label
    return body


@router.api_operation(
    ["GET", "HEAD"],
    "reverse",
    auth=None,
    response=responses(ReverseResult, 404, 422, 429),
    summary="坐标 → 网格、行政区划、最近标准地址 / point → grids, admin chain, nearest address",
)
def reverse_lookup(request: HttpRequest, params: Query[ReverseQuery]):
    from layers.ogcapi.params import ApiError, parse_day

    refusal = ratelimit.refused(request, "public_lookup", anonymous_only=True)
    if refusal is not None:
        return refusal
    system = _crs(params.crs)
    at = None
    if params.date:
        try:
            at = parse_day(params.date)
        except ApiError:
            return error(400, "date 必须是 YYYY-MM-DD 格式的日期", "date must be a date as YYYY-MM-DD")
    try:
        return reverse(parse_point(params.lon, params.lat, system), at)
    except ReverseError as exc:
        return error(exc.status, exc.zh, exc.en, hint=exc.hint)


# ---------------------------------------------------------------- batch
def _visible_job(request: HttpRequest, job_id: str) -> GeocodeJob:
    """The job, if it is the caller's (or the caller sees everything); else 404: someone else's job
    is not found either."""
    missing = ApiError(404, "没有这个任务", f"no such job: {job_id}")
    try:
        job = GeocodeJob.objects.get(pk=uuid.UUID(job_id))
    except (ValueError, GeocodeJob.DoesNotExist):
        raise missing from None
    if job.created_by_id != request.user.pk and not jurisdiction_of(request.user).everything:
        raise missing
    return job


@router.post(
    "geocode/batch",
    auth=LOGIN,
    response=responses(JobAnswer, 401, 413, status=202),
    summary="批量地理编码（CSV 或 JSON，正文或 multipart 文件 file）/ batch geocoding (CSV or JSON)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "string"}}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    },
)
@idempotent("geocode-batch")
def batch_create(request: HttpRequest, params: Query[BatchQuery]):
    """The body is read here, not by a schema: a CSV of up to 200,000 addresses, or JSON, or a file."""
    system = _crs(params.crs)
    column = params.column or None
    try:
        if request.content_type == "multipart/form-data":
            upload = request.FILES.get("file")
            if upload is None:
                return error(400, "缺少文件字段 file", "missing the multipart field `file`")
            data = upload.read()
            kind = "json" if upload.name.lower().endswith(".json") else "csv"
            column = column or request.POST.get("column") or None
        else:
            data = request.body
            kind = "json" if request.content_type == "application/json" else "csv"
        header, rows, col = batch.parse_upload(data, kind, column)
    except RequestDataTooBig:
        return error(
            413,
            "请求体过大，请以文件（multipart）上传",
            "request body too large; upload it as a multipart file",
        )
    except batch.UploadError as exc:
        return error(exc.status, exc.zh, exc.en)
    job = batch.create_job(header, rows, col, system, request.user)
    batch.kick()
    # Under an Idempotency-Key the job commits only after this view returns: start it then as well.
    transaction.on_commit(batch.kick)
    job.refresh_from_db()
    return Status(202, {"job": batch.job_status(job)})


@router.api_operation(
    ["GET", "HEAD"],
    "geocode/batch/{str:job_id}",
    auth=LOGIN,
    response=responses(JobAnswer, 401, 404),
    summary="任务进度 / job progress",
)
def batch_detail(request: HttpRequest, job_id: str):
    job = _visible_job(request, job_id)
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        batch.kick()  # takes the job over if its worker died
        job.refresh_from_db()
    return {"job": batch.job_status(job)}


@router.delete(
    "geocode/batch/{str:job_id}",
    auth=LOGIN,
    response=responses(Deleted, 401, 404),
    summary="取消并删除任务 / cancel and delete the job",
)
def batch_delete(request: HttpRequest, job_id: str):
    job = _visible_job(request, job_id)
    GeocodeJob.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED)
    job.delete()
    return {"deleted": str(job_id)}


@router.api_operation(
    ["GET", "HEAD"],
    "geocode/batch/{str:job_id}/result.csv",
    auth=LOGIN,
    response=responses(None, 401, 404, 409),
    summary="结果 CSV，每个输入行一行 / results, one row per input row",
    openapi_extra={"responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def batch_result(request: HttpRequest, job_id: str):
    job = _visible_job(request, job_id)
    if job.status != JobStatus.DONE:
        return error(
            409,
            f"任务尚未完成（{job.status}，{job.done}/{job.total}）",
            f"the job is not done ({job.status}, {job.done}/{job.total})",
            job=batch.job_status(job),
        )
    response = StreamingHttpResponse(batch.result_text(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="geocode-{job.id}.csv"'
    return response
