"""Drafts of a redrawn net, the operations applied to them, and the record of every publish.

A draft is a private copy of the grids of one partition group (comprehensive + dedicated grids partition
each community together, so they are redrawn together) inside one area.  The published rows in
`layers_grid` are never touched until publish, which closes the rows that changed and opens new ones
(MapIt-style generations), so every other reader keeps seeing the generation in force.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gisapp.background import BackgroundJob
from layers.models.geo import SRID


class DraftStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    VALIDATED = "validated", _("已校验")
    PUBLISHED = "published", _("已发布")
    DISCARDED = "discarded", _("已放弃")


class Draft(models.Model):
    # The net the planner named; every net of its partition group is copied and published with it.
    net = models.ForeignKey("layers.Net", on_delete=models.PROTECT, related_name="+")
    partition_group = models.SlugField(_("分区组"), max_length=32)
    area = models.ForeignKey("layers.AdminUnit", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("状态"), max_length=16, choices=DraftStatus.choices, default=DraftStatus.DRAFT
    )
    # net code → generation number in force when the draft was made: publish refuses a stale draft.
    base_generations = models.JSONField(_("基于版本"), default=dict)
    # Ids of the admin units the grids partition (communities, or districts for overlay nets).
    containers = models.JSONField(_("范围单元"), default=list)
    # The CGCS2000 Gauss-Kruger zone in which areas and widths are measured (EPSG:4551 for the demo city).
    metric_srid = models.PositiveIntegerField(_("量算坐标系"), default=4551)
    note = models.TextField(_("说明"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("边界草稿")
        verbose_name_plural = _("边界草稿")

    def __str__(self) -> str:
        return f"#{self.pk} {self.partition_group} @ {self.area_id} ({self.status})"


class DraftGrid(models.Model):
    """One grid of a draft.  Rows are never deleted while the draft lives: `deleted` marks a grid that a
    merge or delete removed, so the set of published grids the draft started from stays known."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="grids")
    net = models.ForeignKey("layers.Net", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("网格编码"), max_length=24)
    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类型"), max_length=16)
    # The unit the grid must lie in: its community, or its district for overlay nets.
    container = models.ForeignKey("layers.AdminUnit", on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(
        "layers.AdminUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    district = models.ForeignKey("layers.AdminUnit", on_delete=models.PROTECT, related_name="+")
    target_households = models.PositiveIntegerField(_("目标户数"), default=0)
    # The published row this grid was copied from; null for a grid the draft created.
    source = models.ForeignKey(
        "layers.Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    # A name the draft made up ("…第7网格") follows the sequence when codes are renumbered.
    auto_name = models.BooleanField(default=False)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("草稿网格")
        verbose_name_plural = _("草稿网格")
        indexes = [models.Index(fields=["draft", "container"], name="draftgrid_draft_container")]

    def __str__(self) -> str:
        return f"{self.code} (draft {self.draft_id})"


class Operation(models.Model):
    """The trail of a draft: every accepted operation as it was sent, and what it did."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="operations")
    seq = models.PositiveIntegerField()
    op = models.CharField(max_length=16)
    payload = models.JSONField()
    result = models.JSONField(default=dict)
    # What undoing it needs: the draft rows it changed as they were before (see boundaries.undo).
    undo = models.JSONField(default=dict)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["draft", "seq"]
        constraints = [models.UniqueConstraint(fields=["draft", "seq"], name="operation_draft_seq_uniq")]


class BoundaryChange(models.Model):
    """The one audit record of a publish: who, when, why, and everything that moved."""

    draft = models.OneToOneField(Draft, on_delete=models.PROTECT, related_name="change")
    partition_group = models.SlugField(max_length=32)
    area = models.ForeignKey("layers.AdminUnit", on_delete=models.PROTECT, related_name="+")
    # net code → [previous generation number, published generation number]
    generations = models.JSONField(default=dict)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(_("说明"))
    # codes created / changed / retired and the counts of what was reassigned (see boundaries.publish)
    summary = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("边界发布记录")
        verbose_name_plural = _("边界发布记录")
        ordering = ["-published_at"]

    def __str__(self) -> str:
        return f"{self.partition_group} @ {self.area_id} {self.published_at:%Y-%m-%d %H:%M}"


class RetiredCode(models.Model):
    """A grid code that no longer names a grid.  Codes are never reused: the allocator reads this table."""

    net = models.ForeignKey("layers.Net", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("网格编码"), max_length=24, unique=True)
    # The last generation of the net in which the code was in force.
    last_generation = models.PositiveIntegerField()
    change = models.ForeignKey(BoundaryChange, on_delete=models.PROTECT, related_name="retired_codes")
    # Codes of the grids that took over its area (largest share first).
    successors = models.JSONField(default=list)
    retired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("停用网格编码")
        verbose_name_plural = _("停用网格编码")

    def __str__(self) -> str:
        return self.code


class Proposal(BackgroundJob):
    """A run of the grid drawing assistant (boundaries.propose), worked in the background; when done it
    names the draft it made.  Nothing is written until the very end, so a cancelled or failed run
    leaves no draft behind."""

    # Codes, not foreign keys: the city loader may replace admin units and users under a finished run.
    area_code = models.CharField(_("范围"), max_length=12)
    target = models.PositiveIntegerField(_("城市社区目标户数"))
    village_target = models.PositiveIntegerField(_("村目标户数"))
    note = models.TextField(_("说明"), blank=True)
    done = models.PositiveIntegerField(_("已划分社区"), default=0)
    total = models.PositiveIntegerField(_("社区数"), default=0)
    draft = models.ForeignKey(
        Draft, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False, related_name="+"
    )
    summary = models.JSONField(default=dict)
    # The refusal (code, reason, error zh/en) or failure that ended the run.
    error = models.JSONField(null=True, blank=True)

    class Meta(BackgroundJob.Meta):
        verbose_name = _("网格划分任务")
        verbose_name_plural = _("网格划分任务")

    def __str__(self) -> str:
        return f"{self.area_code} {self.target}/{self.village_target} ({self.status})"
