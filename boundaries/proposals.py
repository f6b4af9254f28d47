"""Proposals of the grid drawing assistant as background jobs: queued by the planner page, worked by a
thread of the web process (gisapp.background), with progress per community and cancellation.

A run writes nothing until its last step (boundaries.propose), so a run whose process died is simply
started again by the next process that looks at it (its heartbeat is older than STALE_AFTER), and a
cancelled run leaves nothing behind.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from gisapp.background import Drainer, JobStatus, claim
from layers.models import AdminUnit

from .drafts import check_permission
from .errors import Refusal
from .models import DraftStatus, Proposal
from .propose import URBAN_TARGET, VILLAGE_TARGET, Cancelled, check_targets, communities_of, propose

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=120)
FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


def queue(user, area_code: object, target: object, village_target: object, note: object) -> Proposal:
    """Check the request as the run will (area, permission, targets) and queue it."""
    if not isinstance(area_code, str) or not area_code:
        raise Refusal(400, "bad_request", "需要 area（行政区划代码）", "area (an admin-unit code) is needed")
    target = URBAN_TARGET if target is None else target
    village_target = VILLAGE_TARGET if village_target is None else village_target
    target, village_target = check_targets(target, village_target)
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise Refusal(400, "bad_request", "note 应为 500 字以内的文本", "note: text, 500 characters at most")
    area = AdminUnit.objects.filter(code=area_code).first()
    if area is None:
        raise Refusal(422, "unknown_area", f"行政区划不存在：{area_code}", f"no such admin unit: {area_code}")
    check_permission(user, area)
    total = len(communities_of(area))
    if not total:
        raise Refusal(422, "empty_area", "该范围内没有社区或村", "the area holds no communities or villages")
    return Proposal.objects.create(
        area_code=area.code,
        target=target,
        village_target=village_target,
        note=note or "",
        total=total,
        created_by=user,
    )


def claim_next() -> Proposal | None:
    """Take the oldest queued run, or a running one whose worker stopped beating (it starts over)."""
    return claim(Proposal, STALE_AFTER, done=0)


def run(job: Proposal) -> None:
    """Work one claimed run to its end: done with its draft, failed with the reason, or cancelled."""
    live = Proposal.objects.filter(pk=job.pk, status=JobStatus.RUNNING)

    def progress(done: int, total: int) -> None:
        live.update(done=done, total=total, heartbeat_at=timezone.now())

    def cancelled() -> bool:
        return not live.exists()

    user = get_user_model().objects.filter(pk=job.created_by_id).first()
    try:
        draft, summary = propose(
            user,
            job.area_code,
            job.target,
            job.village_target,
            note=job.note,
            progress=progress,
            cancelled=cancelled,
        )
    except Cancelled:
        return
    except Refusal as exc:
        live.update(status=JobStatus.FAILED, error=exc.payload(), finished_at=timezone.now())
        return
    except Exception as exc:  # noqa: BLE001 - a run fails with its reason recorded, it never kills the worker
        log.exception("grid proposal %s failed", job.pk)
        live.update(
            status=JobStatus.FAILED,
            error={
                "code": 500,
                "reason": "failed",
                "error": {"zh": "划分失败，请联系管理员", "en": f"the proposal failed: {type(exc).__name__}"},
            },
            finished_at=timezone.now(),
        )
        return
    if not live.update(status=JobStatus.DONE, draft=draft, summary=summary, finished_at=timezone.now()):
        # cancelled after the last community: the draft it made is not wanted
        draft.status = DraftStatus.DISCARDED
        draft.save(update_fields=["status"])


_drainer = Drainer("grid-proposals", claim_next, run, "BOUNDARY_PROPOSAL_INLINE")


def kick() -> None:
    _drainer.kick()


def cancel(job: Proposal) -> Proposal:
    updated = Proposal.objects.filter(pk=job.pk).exclude(status__in=FINISHED)
    if not updated.update(status=JobStatus.CANCELLED, finished_at=timezone.now()):
        job.refresh_from_db()
        raise Refusal(
            409,
            "proposal_finished",
            f"划分任务已{job.get_status_display()}，不能取消",
            f"the proposal is already {job.status}",
            proposal=describe(job),
        )
    job.refresh_from_db()
    return job


def resume(job: Proposal) -> None:
    """Work a run nobody is working: queued before a restart, or its worker died."""
    beat = job.heartbeat_at
    if job.status == JobStatus.QUEUED or (
        job.status == JobStatus.RUNNING and beat and timezone.now() - beat > STALE_AFTER
    ):
        kick()


def describe(job: Proposal) -> dict:
    return {
        "id": str(job.pk),
        "status": job.status,
        "area": job.area_code,
        "target": job.target,
        "village_target": job.village_target,
        "done": job.done,
        "total": job.total,
        "progress": round(job.done / job.total, 4) if job.total else 0.0,
        "draft": job.draft_id,
        "summary": job.summary or None,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "links": {
            "self": f"/api/boundaries/proposals/{job.pk}",
            **({"draft": f"/api/boundaries/drafts/{job.draft_id}"} if job.draft_id else {}),
        },
    }
