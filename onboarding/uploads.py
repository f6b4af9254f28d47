"""Onboarding from the admin site: a zip of the handover folder, unpacked and run in the background.

The zip is unpacked under MEDIA_ROOT/onboarding/<run id>/ (never served: the report is shown through the
admin, to staff), refusing what a zip can smuggle: absolute paths, `..`, links, more than MAX_FILES
files or MAX_BYTES unpacked.  The run is the same `onboard()` as the command's, worked by a thread of
the web process (gisapp.background) that records its progress on the row; a dry run's page offers to
apply the same folder.
"""

from __future__ import annotations

import logging
import shutil
import stat
import zipfile
from datetime import timedelta
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from gisapp.background import Drainer, JobStatus, claim
from layers.io.errors import LayerIOError

from .manifest import MANIFEST
from .models import OnboardingRun

log = logging.getLogger(__name__)

MAX_FILES = 10_000
MAX_BYTES = 2 * 1024**3  # unpacked: a district's footprints and registers, with room to spare
STALE_AFTER = timedelta(minutes=10)  # the assistant may take minutes over a big district


class UploadError(ValueError):
    """The zip cannot be onboarded; nothing was kept."""


def root() -> Path:
    return Path(settings.MEDIA_ROOT) / "onboarding"


def unpack(upload, into: Path) -> Path:
    """Unpack the uploaded zip into `into`; the folder holding onboard.yaml (the zip's root or its one
    top folder)."""
    try:
        archive = zipfile.ZipFile(upload)
    except zipfile.BadZipFile:
        raise UploadError("不是有效的 zip 文件 not a valid zip file") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_FILES:
            raise UploadError(f"文件过多 too many files (at most {MAX_FILES})")
        if sum(m.file_size for m in members) > MAX_BYTES:
            raise UploadError(f"解压后超过 {MAX_BYTES // 1024**3} GB larger than that unpacked")
        for m in members:
            name = PurePosixPath(m.filename)
            if name.is_absolute() or ".." in name.parts or stat.S_ISLNK(m.external_attr >> 16):
                raise UploadError(f"不安全的路径 unsafe path in the zip: {m.filename[:100]}")
        into.mkdir(parents=True, exist_ok=False)
        for m in members:
            target = into.joinpath(*PurePosixPath(m.filename).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(m) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    if (into / MANIFEST).is_file():
        return into
    found = sorted(p.parent for p in into.glob(f"*/{MANIFEST}"))
    if len(found) == 1:
        return found[0]
    shutil.rmtree(into, ignore_errors=True)
    raise UploadError(
        f"zip 中没有 {MANIFEST}（应在根目录或唯一的子目录中） the zip has no {MANIFEST} at its top"
    )


def queue_upload(user, upload, name: str, apply: bool) -> OnboardingRun:
    run = OnboardingRun(upload_name=name[:200], apply=apply, created_by=user)
    try:
        folder = unpack(upload, root() / str(run.id))
    except UploadError:
        shutil.rmtree(root() / str(run.id), ignore_errors=True)
        raise
    run.folder = str(folder)
    run.save()
    return run


def queue_apply(user, dry: OnboardingRun) -> OnboardingRun:
    """Apply the folder of a finished dry run."""
    return OnboardingRun.objects.create(
        upload_name=dry.upload_name, folder=dry.folder, apply=True, created_by=user
    )


def claim_next() -> OnboardingRun | None:
    return claim(OnboardingRun, STALE_AFTER, done=0)


def work(job: OnboardingRun) -> None:
    from .run import onboard

    live = OnboardingRun.objects.filter(pk=job.pk, status=JobStatus.RUNNING)

    def steps(what: str, done: int, total: int) -> None:
        live.update(step=what[:200], done=done, total=total, heartbeat_at=timezone.now())

    user = get_user_model().objects.filter(pk=job.created_by_id).first()
    try:
        report = onboard(Path(job.folder), apply=job.apply, user=user, steps=steps)
    except LayerIOError as exc:
        live.update(status=JobStatus.FAILED, error=str(exc)[:5000], finished_at=timezone.now())
        return
    except Exception as exc:  # noqa: BLE001 - a run fails with its reason recorded, it never kills the worker
        log.exception("onboarding run %s failed", job.pk)
        live.update(
            status=JobStatus.FAILED,
            error=f"接入失败 failed: {type(exc).__name__}",
            finished_at=timezone.now(),
        )
        return
    live.update(status=JobStatus.DONE, report=report, step="", done=1, total=1, finished_at=timezone.now())


_drainer = Drainer("onboarding", claim_next, work, "ONBOARDING_INLINE")


def kick() -> None:
    _drainer.kick()
