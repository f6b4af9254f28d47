"""The record of every onboarding that was applied: a second `--apply` of the same folder is recognised
by its fingerprint and changes nothing."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gisapp.background import BackgroundJob


class Onboarding(models.Model):
    # sha256 of the manifest and of every file it names (shapefile sidecars included)
    fingerprint = models.CharField(_("指纹"), max_length=64, unique=True)
    folder = models.CharField(_("目录"), max_length=500)
    applied_at = models.DateTimeField(_("接入时间"), default=timezone.now)
    report = models.JSONField(_("报告"), default=dict)

    class Meta:
        verbose_name = _("城市数据接入")
        verbose_name_plural = _("城市数据接入")
        ordering = ["-applied_at"]

    def __str__(self) -> str:
        return f"{self.folder} {self.applied_at:%Y-%m-%d %H:%M}"


class OnboardingRun(BackgroundJob):
    """An onboarding started from the admin site: a zip unpacked into `folder`, a dry run or an apply,
    worked in the background with its progress (`step`, `done` of `total`) and, at the end, its report."""

    upload_name = models.CharField(_("上传文件"), max_length=200)
    folder = models.CharField(_("目录"), max_length=500)
    apply = models.BooleanField(_("正式接入"), default=False)
    step = models.CharField(_("当前步骤"), max_length=200, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    report = models.JSONField(_("报告"), null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)

    class Meta(BackgroundJob.Meta):
        verbose_name = _("数据接入任务")
        verbose_name_plural = _("数据接入任务")

    def __str__(self) -> str:
        return f"{self.upload_name} ({'apply' if self.apply else 'dry run'}, {self.status})"
