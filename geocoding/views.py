"""The geocoder's HTTP API: /api/geocode, /api/reverse, /api/geocode/batch.

Every error is `{"code": …, "error": {"zh": …, "en": …}}` (gisapp.views.error_json), with extra keys
(such as a swapped-axes hint) added beside it; nothing a client sends leads to a 500.  Geocoding and
reverse lookup are public, like the buildings layer they read (rate-limited per address for anonymous
callers, gisapp.ratelimit); batch jobs need a login (session or
bearer token) and are visible to their owner and to administrators only.
"""

from __future__ import annotations

import functools
import uuid

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from gisapp import ratelimit
from gisapp.accounts.jurisdiction import jurisdiction_of
from gisapp.idempotency import idempotent
from gisapp.views import error_json

from . import batch
from . import crs as crsmod
from .geocoder import InvalidQuery, geocode_many, validate
from .models import GeocodeJob, JobStatus
from .reverse import ReverseError, parse_point, reverse

ACCEPTED_CRS = "EPSG:4490（默认）、EPSG:4326、EPSG:3857、EPSG:4491–4554（CGCS2000 高斯-克吕格）、GCJ02、BD09"
ACCEPTED_CRS_EN = (
    "EPSG:4490 (default), EPSG:4326, EPSG:3857, EPSG:4491-4554 (CGCS2000 Gauss-Kruger), GCJ02, BD09"
)


def methods(*allowed: str):
    """Like require_http_methods, but the 405 is the API's JSON error."""

    def wrap(view):
        @functools.wraps(view)
        def inner(request, *args, **kwargs):
            if request.method not in allowed:
                response = error(405, f"不支持 {request.method} 方法", f"method {request.method} not allowed")
                response["Allow"] = ", ".join(allowed)
                return response
            return view(request, *args, **kwargs)

        return inner

    return wrap


error = error_json  # the project's one error shape; `hint=` and other extras pass through


def _crs(request: HttpRequest) -> crsmod.RefSystem:
    return crsmod.parse_crs(request.GET.get("crs"))


def _csrf_failed(request: HttpRequest) -> JsonResponse | None:
    """Session clients must send the CSRF token; bearer-token clients are exempt (no cookie to forge)."""
    if getattr(request, "_dont_enforce_csrf_checks", False):
        return None
    from django.middleware.csrf import CsrfViewMiddleware

    if CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is not None:
        return error(
            403,
            "CSRF 校验失败：会话请求须带 CSRF 令牌",
            "CSRF check failed: session requests need the CSRF token",
        )
    return None


def _bad_crs(value) -> JsonResponse:
    return error(
        400,
        f"不支持的坐标系“{str(value)[:40]}”，可用：{ACCEPTED_CRS}",
        f"unsupported crs {str(value)[:40]!r}; accepted: {ACCEPTED_CRS_EN}",
    )


@methods("GET", "HEAD")
def geocode(request: HttpRequest) -> JsonResponse:
    """GET /api/geocode?q=…[&crs=EPSG:4490][&limit=5]"""
    refusal = ratelimit.refused(request, "public_lookup", anonymous_only=True)
    if refusal is not None:
        return refusal
    try:
        system = _crs(request)
    except crsmod.CRSError:
        return _bad_crs(request.GET.get("crs"))
    try:
        limit = int(request.GET.get("limit", "5"))
    except ValueError:
        return error(400, "limit 须为 1～10 的整数", "limit must be an integer from 1 to 10")
    if not 1 <= limit <= 10:
        return error(400, "limit 须为 1～10 的整数", "limit must be an integer from 1 to 10")
    try:
        q = validate(request.GET.get("q"))
    except InvalidQuery as exc:
        return error(400, exc.zh, exc.en)
    result = geocode_many([q], system, limit=limit, validated=True)[0]
    body = result.as_dict()
    body["crs"] = system.label
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


@methods("GET", "HEAD")
def reverse_view(request: HttpRequest) -> JsonResponse:
    """GET /api/reverse?lon=…&lat=…[&crs=EPSG:4490][&date=YYYY-MM-DD] — `date` answers with the boundaries
    in force at the end of that day (the same rule as the OGC API's grids collection)."""
    from layers.ogcapi.params import ApiError, parse_day

    refusal = ratelimit.refused(request, "public_lookup", anonymous_only=True)
    if refusal is not None:
        return refusal
    try:
        system = _crs(request)
    except crsmod.CRSError:
        return _bad_crs(request.GET.get("crs"))
    at = None
    if request.GET.get("date"):
        try:
            at = parse_day(request.GET["date"])
        except ApiError:
            return error(400, "date 必须是 YYYY-MM-DD 格式的日期", "date must be a date as YYYY-MM-DD")
    try:
        point = parse_point(request.GET.get("lon"), request.GET.get("lat"), system)
        body = reverse(point, at)
    except ReverseError as exc:
        return error(exc.status, exc.zh, exc.en, hint=exc.hint)
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


# ---------------------------------------------------------------- batch
def _login_required(request: HttpRequest) -> JsonResponse | None:
    if not (request.user and request.user.is_authenticated):
        return error(
            401,
            "批量地理编码需要登录（会话或 Bearer 令牌）",
            "batch geocoding needs a login (session or bearer token)",
        )
    return None


def _visible_job(request: HttpRequest, job_id: str) -> GeocodeJob | JsonResponse:
    denied = _login_required(request)
    if denied:
        return denied
    try:
        job = GeocodeJob.objects.get(pk=uuid.UUID(job_id))
    except (ValueError, GeocodeJob.DoesNotExist):
        return error(404, "没有这个任务", f"no such job: {job_id}")
    if job.created_by_id != request.user.pk and not jurisdiction_of(request.user).everything:
        return error(404, "没有这个任务", f"no such job: {job_id}")
    return job


@csrf_exempt  # checked in the view so that a failure answers JSON like every other API error
@methods("POST")
@idempotent("geocode-batch")
def batch_create(request: HttpRequest) -> JsonResponse:
    """POST /api/geocode/batch — CSV or JSON, as the body or as a multipart file `file`."""
    denied = _login_required(request) or _csrf_failed(request)
    if denied:
        return denied
    try:
        system = _crs(request)
    except crsmod.CRSError:
        return _bad_crs(request.GET.get("crs"))
    column = request.GET.get("column") or None
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
    return JsonResponse({"job": batch.job_status(job)}, status=202, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@methods("GET", "HEAD", "DELETE")
def batch_detail(request: HttpRequest, job_id: str) -> JsonResponse:
    """GET: progress; DELETE: cancel and forget the job."""
    job = _visible_job(request, job_id)
    if isinstance(job, JsonResponse):
        return job
    if request.method == "DELETE":
        denied = _csrf_failed(request)
        if denied:
            return denied
        GeocodeJob.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED)
        job.delete()
        return JsonResponse({"deleted": str(job_id)})
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        batch.kick()  # takes the job over if its worker died
        job.refresh_from_db()
    return JsonResponse({"job": batch.job_status(job)}, json_dumps_params={"ensure_ascii": False})


@methods("GET", "HEAD")
def batch_result(request: HttpRequest, job_id: str) -> HttpResponse:
    """The results as CSV: one row per input row, in order, each failure with its reason."""
    job = _visible_job(request, job_id)
    if isinstance(job, JsonResponse):
        return job
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
