"""Batch geocoding: uploads parsed into rows, jobs stored in the database, worked in chunks.

Jobs are worked by a thread of the web process (gisapp.background says why).  The job itself lives in
the database, so the thread holds nothing that cannot be recovered: results are stored per chunk of
CHUNK rows with the job's progress and a heartbeat, and a job whose heartbeat is older than STALE_AFTER
(its process died or was restarted) is taken over — resuming after its last stored chunk — by the next
process that looks at it (a status request, a new upload, or `manage.py geocode_batch --work`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from gisapp.background import Drainer, claim
from gisapp.limits import has_nul

from . import crs as crsmod
from .geocoder import Result, geocode_many
from .models import GeocodeJob, GeocodeJobChunk, JobStatus

log = logging.getLogger(__name__)

CHUNK = 2000
STALE_AFTER = timedelta(seconds=120)
ADDRESS_COLUMNS = ("address", "地址", "q", "query", "标准地址", "详细地址", "事发地址", "addr")
CONFIDENT = 0.8


class UploadError(ValueError):
    def __init__(self, zh: str, en: str, status: int = 400):
        super().__init__(en)
        self.zh, self.en, self.status = zh, en, status


def max_rows() -> int:
    return int(getattr(settings, "GEOCODE_BATCH_MAX_ROWS", 200_000))


# ---------------------------------------------------------------- reading uploads
def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 — what Excel on a Chinese desktop saves."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UploadError("文件编码无法识别（请用 UTF-8 或 GBK）", "cannot decode the file (use UTF-8 or GBK)")


def _pick_column(header: list[str], column: str | None) -> int:
    names = [h.strip().lower() for h in header]
    if column:
        if column.strip().lower() in names:
            return names.index(column.strip().lower())
        raise UploadError(f"没有名为“{column}”的列", f"no column named {column!r}")
    for wanted in ADDRESS_COLUMNS:
        if wanted in names:
            return names.index(wanted)
    raise UploadError(
        "找不到地址列：请把地址所在列命名为 address 或“地址”，或用 column 参数指定",
        "no address column: name it 'address' (or 地址) or give the `column` parameter",
    )


def parse_csv(text: str, column: str | None = None) -> tuple[list[str], list[list[str]], int]:
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise UploadError("文件中没有数据行", "the file has no rows")
    header = rows[0]
    names = [h.strip().lower() for h in header]
    if column or any(name in names for name in ADDRESS_COLUMNS):
        return header, rows[1:], _pick_column(header, column)
    if len(header) == 1:
        return ["address"], rows, 0  # a bare list of addresses, one per line, no header
    raise UploadError(
        "找不到地址列：请把地址所在列命名为 address 或“地址”，或用 column 参数指定",
        "no address column: name it 'address' (or 地址) or give the `column` parameter",
    )


def parse_json(text: str, column: str | None = None) -> tuple[list[str], list[list[str]], int]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise UploadError("JSON 格式错误", f"invalid JSON: {exc}") from None
    if isinstance(data, dict):
        data = data.get("addresses", data.get("rows"))
    if not isinstance(data, list) or not data:
        raise UploadError(
            "JSON 应为地址数组，或含 addresses 数组的对象",
            "JSON must be a list of addresses or an object with an `addresses` list",
        )
    if all(isinstance(x, str) for x in data):
        return ["address"], [[x] for x in data], 0
    if all(isinstance(x, dict) for x in data):
        header: list[str] = []
        for x in data:
            for k in x:
                if k not in header:
                    header.append(str(k))
        col = _pick_column(header, column)
        rows = [["" if x.get(h) is None else str(x.get(h)) for h in header] for x in data]
        return header, rows, col
    raise UploadError(
        "JSON 数组的元素应全为字符串或全为对象", "JSON list items must be all strings or all objects"
    )


def parse_upload(data: bytes, kind: str, column: str | None = None) -> tuple[list[str], list[list[str]], int]:
    """(columns, rows, index of the address column) from CSV or JSON bytes; UploadError on bad input."""
    text = decode(data)
    header, rows, col = parse_json(text, column) if kind == "json" else parse_csv(text, column)
    if has_nul(header) or has_nul(rows):  # raw or as a JSON escape: PostgreSQL cannot store it (a 500 before)
        raise UploadError("文件中含有 NUL（\\u0000）字符", "the file contains NUL (\\u0000) characters")
    if not rows:
        raise UploadError("文件中没有数据行", "the file has no data rows")
    if len(rows) > max_rows():
        raise UploadError(
            f"行数过多（{len(rows)} 行，最多 {max_rows()} 行）",
            f"too many rows ({len(rows)}, at most {max_rows()})",
            status=413,
        )
    return header, rows, col


# ---------------------------------------------------------------- results as CSV
def result_columns(nets: list[str]) -> list[str]:
    return [
        "status",
        "confidence",
        "level",
        "building_id",
        "matched_address",
        "lon",
        "lat",
        "grid_code",
        *[f"grid_{n}" for n in nets],
        "district_code",
        "district",
        "street_code",
        "street",
        "community_code",
        "community",
        "unit",
        "room",
        "candidates",
        "reason",
    ]


def net_codes() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("select code from layers_net order by ordering, code")
        return [r[0] for r in cur.fetchall()]


def result_cells(res: Result, nets: list[str]) -> list[str]:
    """One output row's result part; every failure says why (in Chinese and English)."""
    if res.error:
        return [
            "invalid",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            *[""] * len(nets),
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "0",
            f"{res.error['zh']} / {res.error['en']}",
        ]
    if not res.candidates:
        reason = res.reason or {"zh": "未找到", "en": "not found"}
        return [
            "not_found",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            *[""] * len(nets),
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "0",
            f"{reason['zh']} / {reason['en']}",
        ]
    top = res.candidates[0]
    admin = top.get("admin", {})
    status = "ok" if top["confidence"] >= CONFIDENT else "uncertain"
    reason = ""
    if "explain" in top:
        reason = f"{top['explain']['zh']} / {top['explain']['en']}"
    elif status == "uncertain" and res.reason:
        reason = f"{res.reason['zh']} / {res.reason['en']}"
    return [
        status,
        f"{top['confidence']:.3f}",
        top["level"],
        "" if top["building_id"] is None else str(top["building_id"]),
        top["address"],
        str(top["lon"]),
        str(top["lat"]),
        top["grid_code"] or "",
        *[top["grids"].get(n, "") for n in nets],
        admin.get("district", {}).get("code", ""),
        admin.get("district", {}).get("name", ""),
        admin.get("street", {}).get("code", ""),
        admin.get("street", {}).get("name", ""),
        admin.get("community", {}).get("code", ""),
        admin.get("community", {}).get("name", ""),
        "" if top.get("unit") is None else str(top["unit"]),
        top.get("room") or "",
        str(res.found),
        reason,
    ]


def process_rows(
    rows: list[list[str]], col: int, system: crsmod.RefSystem, nets: list[str], start: int = 0
) -> tuple[list[list[str]], int]:
    """Output rows (row number, input cells, result cells) for one chunk, and how many were matched."""
    queries = [r[col] if col < len(r) else "" for r in rows]
    # The same address often comes many times in a complaint sheet: geocode each text once.
    unique = list(dict.fromkeys(queries))
    # Only the best answer goes into the sheet (with the number of candidates found beside it).
    by_text = dict(zip(unique, geocode_many(unique, system, limit=1), strict=True))
    out, matched = [], 0
    for k, (row, q) in enumerate(zip(rows, queries, strict=True)):
        cells = result_cells(by_text[q], nets)
        matched += cells[0] in ("ok", "uncertain")
        out.append([str(start + k + 1), *row, *cells])
    return out, matched


def to_csv(rows: Iterable[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerows(rows)
    return buf.getvalue()


# ---------------------------------------------------------------- jobs
def create_job(
    header: list[str], rows: list[list[str]], col: int, system: crsmod.RefSystem, user
) -> GeocodeJob:
    return GeocodeJob.objects.create(
        created_by=user if user is not None and user.is_authenticated else None,
        crs=system.label,
        columns=header,
        query_column=col,
        rows=rows,
        total=len(rows),
    )


def run_job(job_id, progress: Callable[[int], None] | None = None) -> None:
    """Work a job from its last stored chunk to the end (the caller has claimed it)."""
    job = GeocodeJob.objects.get(pk=job_id)
    system = crsmod.parse_crs(job.crs)
    nets = net_codes()
    header = ["row", *job.columns, *result_columns(nets)]
    done_chunks = set(job.chunks.values_list("index", flat=True))
    try:
        for index, start in enumerate(range(0, job.total, CHUNK)):
            if index in done_chunks:
                continue
            if not GeocodeJob.objects.filter(pk=job.pk).exclude(status=JobStatus.CANCELLED).exists():
                return  # cancelled or deleted meanwhile
            out, matched = process_rows(
                job.rows[start : start + CHUNK], job.query_column, system, nets, start
            )
            if index == 0:
                out.insert(0, header)
            with transaction.atomic():
                GeocodeJobChunk.objects.create(
                    job=job, index=index, csv=to_csv(out), rows=len(out) - (index == 0), matched=matched
                )
                agg = job.chunks.aggregate(n=Sum("rows"), m=Sum("matched"))
                GeocodeJob.objects.filter(pk=job.pk).exclude(status=JobStatus.CANCELLED).update(
                    done=agg["n"], matched=agg["m"], failed=agg["n"] - agg["m"], heartbeat_at=timezone.now()
                )
            if progress:
                progress(len(out) - (index == 0))
        GeocodeJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.DONE, finished_at=timezone.now(), heartbeat_at=timezone.now()
        )
    except Exception as exc:  # noqa: BLE001 - a job fails with its reason recorded, it never kills the worker
        log.exception("geocoding job %s failed", job_id)
        GeocodeJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )


def claim_next() -> GeocodeJob | None:
    """Take the oldest queued job, or a running one whose worker stopped beating (it resumes after its
    last stored chunk)."""
    return claim(GeocodeJob, STALE_AFTER)


# The per-process worker thread (gisapp.background); tests set GEOCODE_BATCH_INLINE to work in-line.
_drainer = Drainer("geocode-batch", claim_next, lambda job: run_job(job.pk), "GEOCODE_BATCH_INLINE")


def kick() -> None:
    """Make sure this process has a worker thread draining the queue (one per process)."""
    _drainer.kick()


def job_status(job: GeocodeJob) -> dict:
    return {
        "id": str(job.id),
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "matched": job.matched,
        "failed": job.failed,
        "progress": round(job.done / job.total, 4) if job.total else 1.0,
        "crs": job.crs,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error or None,
        "links": {
            "self": f"/api/geocode/batch/{job.id}",
            "result": f"/api/geocode/batch/{job.id}/result.csv",
        },
    }


def result_text(job: GeocodeJob) -> Iterable[str]:
    """The whole result CSV (UTF-8 with BOM so that Excel opens it), chunk by chunk."""
    yield "\ufeff"
    yield from job.chunks.order_by("index").values_list("csv", flat=True).iterator(chunk_size=4)
