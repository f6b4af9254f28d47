"""Background jobs worked by a thread of the web process (batch geocoding, grid proposals).

Why a thread in the web process rather than a separate worker command: the deployment is one `./gis up`
(or one uvicorn service) on a closed network, and a second long-running process is one more thing to
install, supervise and forget.  Each job lives in the database with a heartbeat, so the thread holds
nothing that cannot be recovered: a job whose heartbeat stops is taken over by the next process that
looks at it.  One thread per process and per kind of job: the machine has two cores, and a second
concurrent job would only slow the web requests down.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    """Where a background job is (batch geocoding, grid proposals)."""

    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("处理中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


class BackgroundJob(models.Model):
    """What every background job records: where it is, whose it is, and when it started, beat and ended
    (`claim` and the stale-heartbeat takeover read these)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(_("状态"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    # No constraint: the city loader truncates auth_user with CASCADE, which must not take jobs with it.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]


def claim(model: type[models.Model], stale_after: timedelta, **restart) -> models.Model | None:
    """Take the oldest queued job of `model`, or a running one whose worker stopped beating, and mark it
    running; `restart` are the fields to reset when a job starts over (a job that resumes sets none).
    The model has `status`, `created_at`, `started_at` and `heartbeat_at`."""
    stale = timezone.now() - stale_after
    with transaction.atomic():
        job = (
            model.objects.select_for_update(skip_locked=True)
            .filter(Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale))
            .order_by("created_at")
            .first()
        )
        if job is None:
            return None
        now = timezone.now()
        started = now if restart else (job.started_at or now)
        model.objects.filter(pk=job.pk).update(
            status=JobStatus.RUNNING, heartbeat_at=now, started_at=started, **restart
        )
        job.refresh_from_db()
        return job


class Drainer:
    """Runs `work(claim())` until `claim` finds nothing, in one daemon thread per process.

    With the setting named by `inline_setting` true (the tests' transactions are invisible to other
    connections), `kick` works the queue in the calling thread instead."""

    def __init__(
        self,
        name: str,
        claim: Callable[[], object | None],
        work: Callable[[object], None],
        inline_setting: str,
    ) -> None:
        self.name = name
        self.claim = claim
        self.work = work
        self.inline_setting = inline_setting
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _drain(self) -> None:
        try:
            while True:
                close_old_connections()
                job = self.claim()
                if job is None:
                    return
                self.work(job)
        finally:
            connection.close()

    def kick(self) -> None:
        """Make sure this process works the queue."""
        if getattr(settings, self.inline_setting, False):
            job = self.claim()
            while job is not None:
                self.work(job)
                job = self.claim()
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._drain, name=self.name, daemon=True)
            self._thread.start()
