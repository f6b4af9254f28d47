"""Special campaigns (专项行动, 创安一号…): a checklist pushed to every grid of an area, progress per grid."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Campaign(models.Model):
    name = models.CharField(_("名称"), max_length=64)
    description = models.TextField(_("说明"), blank=True)
    # Admin-unit code (or grid-code prefix) of the area the campaign covers.
    area_code = models.CharField(_("范围编码"), max_length=24)
    checklist = models.JSONField(_("检查清单"), default=list)  # ["排查燃气管道", …]
    starts_at = models.DateTimeField(_("开始"), default=timezone.now)
    ends_at = models.DateTimeField(_("截止"), null=True, blank=True)
    created_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")

    jurisdiction_field = "area_code"

    class Meta:
        verbose_name = _("专项行动")
        verbose_name_plural = _("专项行动")

    def __str__(self) -> str:
        return self.name


class CampaignProgress(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="progress")
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    done = models.JSONField(_("已完成项"), default=list)  # indexes into the checklist
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")

    jurisdiction_field = "grid_code"

    class Meta:
        verbose_name = _("专项行动进度")
        verbose_name_plural = _("专项行动进度")
        constraints = [models.UniqueConstraint(fields=["campaign", "grid_code"], name="campaign_grid_uniq")]
