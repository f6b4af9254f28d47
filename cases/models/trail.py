"""The trail (全程留痕): every transition, assignment, comment, photo and move of a case, append-only.

Rows are never updated or deleted: a database trigger (migration 0003) refuses it, so not even a bug or
an admin can rewrite what happened.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from layers.models.geo import SRID


class CaseEvent(models.Model):
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_role = models.CharField(_("角色"), max_length=16, blank=True)
    action = models.CharField(_("动作"), max_length=24)
    from_status = models.CharField(_("原状态"), max_length=16, blank=True)
    to_status = models.CharField(_("新状态"), max_length=16, blank=True)
    # What changed, field by field ({"field": [old, new]}), plus the action's own data (reason, rating …).
    changes = models.JSONField(_("变更"), default=dict, blank=True)
    comment = models.TextField(_("说明"), blank=True)
    # Where the actor was when acting (a field worker's phone), if known.
    geom = models.PointField(_("操作位置"), srid=SRID, null=True, blank=True)

    class Meta:
        verbose_name = _("案件轨迹")
        verbose_name_plural = _("案件轨迹")
        ordering = ["case", "at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class Attachment(models.Model):
    """A photo or file of a case: what the reporter saw, what the handler did."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="attachments")
    event = models.ForeignKey(
        CaseEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments"
    )
    file = models.FileField(upload_to="cases/%Y/%m/")
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
