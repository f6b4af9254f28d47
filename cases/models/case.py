"""A case (案件): where it is, what it is, who must act, by when, and where it stands in the loop."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from layers.models.geo import SRID, gist, mercator_copy

from .category import Category


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
    RETURNED = "returned", _("已回退")


# A case in one of these states needs nobody any more; every other state is "open".
FINAL_STATES = (CaseStatus.CLOSED, CaseStatus.EVALUATED, CaseStatus.REJECTED, CaseStatus.MERGED)


class Channel(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员上报")
    HOTLINE = "hotline", _("12345热线")
    PUBLIC = "public", _("居民上报")
    WECHAT = "wechat", _("微信")
    WEB = "web", _("网站")
    VIDEO = "video", _("视频告警")
    OPEN311 = "open311", _("Open311")
    BATCH = "batch", _("批量导入")


class Severity(models.TextChoices):
    """How big a thing is decides who acts: 小事不出网格, 大事不出街道, emergencies to the command centre."""

    TRIVIAL = "trivial", _("小事(网格)")
    SMALL = "small", _("一般(社区)")
    BIG = "big", _("较大(街道)")
    EMERGENCY = "emergency", _("紧急(指挥中心)")


class Level(models.TextChoices):
    """Who acts on a case: a level of the locality, or a department."""

    GRID = "grid", _("网格")
    COMMUNITY = "community", _("社区")
    STREET = "street", _("街道")
    DISTRICT = "district", _("区指挥中心")
    DEPARTMENT = "department", _("职能部门")


class Case(models.Model):
    number = models.CharField(_("案件编号"), max_length=24, unique=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(
        _("状态"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.REPORTED
    )
    severity = models.CharField(_("等级"), max_length=16, choices=Severity.choices, default=Severity.SMALL)
    channel = models.CharField(_("来源"), max_length=16, choices=Channel.choices)
    description = models.TextField(_("描述"), blank=True)
    address = models.CharField(_("地址"), max_length=160, blank=True)
    reported_at = models.DateTimeField(_("上报时间"), default=timezone.now, db_index=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    # --- place: the point, and what holds it (set together by cases.placement)
    geom = models.PointField(_("位置"), srid=SRID, null=True, blank=True)
    geom_3857 = mercator_copy(models.PointField)
    # The community-partition grid holding the point when the case was placed (blank while unplaced).
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True, blank=True)
    grids = models.JSONField(_("各网格编码"), default=dict, blank=True)  # net code → grid code
    building = models.ForeignKey(
        "layers.Building", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    # Low-confidence addresses wait in the "place me" queue for a dispatcher instead of being guessed.
    needs_placement = models.BooleanField(_("待定位"), default=False, db_index=True)
    placement_confidence = models.FloatField(_("定位置信度"), null=True, blank=True)

    # --- who acts
    assignee_level = models.CharField(_("处置层级"), max_length=16, choices=Level.choices, blank=True)
    assignee_code = models.CharField(_("处置单位编码"), max_length=24, blank=True, db_index=True)
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )

    # --- time: the current step's deadline, and the deadline the case must be closed by
    step_started_at = models.DateTimeField(_("当前环节开始"), null=True, blank=True)
    deadline = models.DateTimeField(_("当前环节时限"), null=True, blank=True, db_index=True)
    due_at = models.DateTimeField(_("结案时限"), null=True, blank=True)
    registered_at = models.DateTimeField(_("立案时间"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("派遣时间"), null=True, blank=True)
    handled_at = models.DateTimeField(_("处置时间"), null=True, blank=True)

    # --- outcome and counters the evaluation reads
    result = models.TextField(_("处置结果"), blank=True)
    rating = models.PositiveSmallIntegerField(_("满意度评分"), null=True, blank=True)
    reworks = models.PositiveSmallIntegerField(_("返工次数"), default=0)
    extensions = models.PositiveSmallIntegerField(_("延期次数"), default=0)
    escalations = models.PositiveSmallIntegerField(_("上报次数"), default=0)
    extension_requested_hours = models.FloatField(_("申请延期(工作小时)"), null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_cases"
    )

    # --- who reported, and the retry key that makes a phone's resend harmless
    reporter = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="reported_cases"
    )
    reporter_contact = models.CharField(_("上报人联系方式"), max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    # Optimistic lock: every change bumps it; a change based on an older version is refused (409).
    version = models.PositiveIntegerField(default=1)

    jurisdiction_field = "grid_code"
    department_field = "department"
    personal_fields = ("reporter_contact",)

    def admits_unmasking(self, user) -> bool:
        """Beside the administrator, the case's dispatchers and its assignee may read the reporter's
        contact in clear (layers.masking.may_unmask asks): they may have to call the reporter back."""
        from cases.services import relations

        return bool(relations(user, self) & {"dispatcher", "assignee"})

    class Meta:
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        indexes = [
            gist("geom_3857", name="case_geom3857_gist"),
            models.Index(fields=["status", "category"], name="case_status_category_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATES
