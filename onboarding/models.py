"""The record of every onboarding that was applied: a second `--apply` of the same folder is recognised
by its fingerprint and changes nothing."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
