"""The two-level, configurable case category dictionary (事件 / 部件 / 社会治理事件)."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    """A two-level, configurable dictionary: a top-level class (市容环境 …) and its items (暴露垃圾 …)."""

    class Kind(models.TextChoices):
        EVENT = "event", _("事件")
        COMPONENT = "component", _("部件")
        GOVERNANCE = "governance", _("社会治理事件")

    code = models.CharField(_("代码"), max_length=16, unique=True)
    name = models.CharField(_("名称"), max_length=32)
    name_en = models.CharField(_("英文名"), max_length=64, blank=True)
    kind = models.CharField(_("类别"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # How big such a case usually is (decides routing until a dispatcher says otherwise).
    default_severity = models.CharField(_("默认等级"), max_length=16, default="small")
    # Working hours to handle a case once dispatched; DeadlineRule rows refine it per step and preset.
    deadline_hours = models.PositiveIntegerField(_("处置时限(工作小时)"), default=24)

    class Meta:
        verbose_name = _("案件类别")
        verbose_name_plural = _("案件类别")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
