"""Cases (案件) and their two-level category dictionary.

The full case loop (states, routing, deadlines, trail) is built on these rows; this module gives every
case its place (a point and the grid that holds it) and its category.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from layers.models.geo import SRID, gist, mercator_copy


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
    # Deadline to close, in working hours (the case-loop issue adds per-step deadlines and a calendar).
    deadline_hours = models.PositiveIntegerField(_("处置时限(工作小时)"), default=24)

    class Meta:
        verbose_name = _("案件类别")
        verbose_name_plural = _("案件类别")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CaseStatus(models.TextChoices):
    REPORTED = "reported", _("已上报")
    REGISTERED = "registered", _("已立案")
    DISPATCHED = "dispatched", _("已派遣")
    IN_PROGRESS = "in_progress", _("处置中")
    HANDLED = "handled", _("已处置")
    CLOSED = "closed", _("已结案")
    EVALUATED = "evaluated", _("已评价")
    REJECTED = "rejected", _("不予立案")
    MERGED = "merged", _("已合并")


class Channel(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员上报")
    HOTLINE = "hotline", _("12345热线")
    PUBLIC = "public", _("居民上报")
    WECHAT = "wechat", _("微信")
    WEB = "web", _("网站")
    VIDEO = "video", _("视频告警")
    OPEN311 = "open311", _("Open311")


class Case(models.Model):
    number = models.CharField(_("案件编号"), max_length=24, unique=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(
        _("状态"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.REPORTED
    )
    channel = models.CharField(_("来源"), max_length=16, choices=Channel.choices)
    description = models.TextField(_("描述"), blank=True)
    address = models.CharField(_("地址"), max_length=160, blank=True)
    reported_at = models.DateTimeField(_("上报时间"), default=timezone.now, db_index=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    # Comprehensive grid holding the point when the case was placed (blank while unplaced).
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True, blank=True)
    building = models.ForeignKey(
        "layers.Building", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    geom = models.PointField(_("位置"), srid=SRID, null=True, blank=True)
    geom_3857 = mercator_copy(models.PointField)

    jurisdiction_field = "grid_code"
    department_field = "department"

    class Meta:
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        indexes = [gist("geom_3857", name="case_geom3857_gist")]

    def __str__(self) -> str:
        return self.number
