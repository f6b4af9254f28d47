"""Nets (网) and their grids (网格), with boundary generations from day one.

A grid row is valid from one generation of its net to another (MapIt's generation_low/high): redrawing
adds rows and closes old ones instead of updating geometry in place, so "which grid held this address on
1 March?" is answered by choosing the generation that was in force then.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.gis.db import models
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .geo import SRID, gist, mercator_copy


class Net(models.Model):
    """A kind of grid network: nets are data (comprehensive, dedicated, police, mediation, …)."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32)
    name_en = models.CharField(_("英文名"), max_length=64, blank=True)
    # Comprehensive and dedicated grids each lie inside exactly one community and carry its code as prefix;
    # overlay nets (police, mediation) need not follow community lines and have codes of their own.
    follows_communities = models.BooleanField(_("按社区划分"), default=True)
    # Nets whose grids together partition a community (comprehensive + dedicated) share a partition group.
    partition_group = models.SlugField(_("分区组"), max_length=32)
    ordering = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("网")
        verbose_name_plural = _("网")
        ordering = ["ordering", "code"]

    def __str__(self) -> str:
        return self.name


class GenerationStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    VALIDATED = "validated", _("已校验")
    PUBLISHED = "published", _("已发布")
    SUPERSEDED = "superseded", _("已替代")


def database_now() -> dt.datetime:
    """The database's clock for this transaction (`now()`): a generation's `effective_from` is on it, so
    that every generation written in one transaction has the same time and the highest number wins."""
    with connection.cursor() as cur:
        cur.execute("select now()")
        return cur.fetchone()[0]


class Generation(models.Model):
    net = models.ForeignKey(Net, on_delete=models.PROTECT, related_name="generations")
    number = models.PositiveIntegerField(_("版本号"))
    status = models.CharField(_("状态"), max_length=16, choices=GenerationStatus.choices)
    effective_from = models.DateTimeField(_("生效时间"), null=True, blank=True)
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("边界版本")
        verbose_name_plural = _("边界版本")
        constraints = [models.UniqueConstraint(fields=["net", "number"], name="generation_net_number_uniq")]
        ordering = ["net", "number"]

    def __str__(self) -> str:
        return f"{self.net.code} #{self.number} ({self.status})"

    @classmethod
    def in_force(cls, at: dt.datetime | None = None) -> dict[int, int]:
        """net id → the number of the generation in force at `at` (now by default)."""
        at = at or timezone.now()
        rows = (
            cls.objects.filter(
                status__in=[GenerationStatus.PUBLISHED, GenerationStatus.SUPERSEDED], effective_from__lte=at
            )
            .order_by("net_id", "-effective_from", "-number")
            .distinct("net_id")
            .values_list("net_id", "number")
        )
        return dict(rows)


class GridQuerySet(models.QuerySet):
    def current(self, at: dt.datetime | None = None) -> GridQuerySet:
        """Grids of the generation in force at `at` (now by default), in every net."""
        q = Q(pk__in=[])
        for net_id, number in Generation.in_force(at).items():
            q |= Q(net_id=net_id, generation_low__lte=number) & (
                Q(generation_high__isnull=True) | Q(generation_high__gte=number)
            )
        return self.filter(q)


class GridKind(models.TextChoices):
    STANDARD = "standard", _("普通网格")
    SCHOOL = "school", _("学校")
    HOSPITAL = "hospital", _("医院")
    ENTERPRISE = "enterprise", _("企业")
    ESTATE = "estate", _("小区")
    POLICE = "police", _("警格")
    MEDIATION = "mediation", _("调解网格")


class Grid(models.Model):
    net = models.ForeignKey(Net, on_delete=models.PROTECT, related_name="grids")
    # 15 digits for community nets: the community's 12-digit code + a 3-digit sequence numbered
    # west → east, then north → south inside the community.
    code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类型"), max_length=16, choices=GridKind.choices, default=GridKind.STANDARD)
    community = models.ForeignKey(
        "layers.AdminUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="grids"
    )
    # The district an overlay grid partitions (every grid has one; for community nets it is redundant).
    district = models.ForeignKey("layers.AdminUnit", on_delete=models.PROTECT, related_name="district_grids")
    target_households = models.PositiveIntegerField(_("目标户数"), default=200)
    generation_low = models.PositiveIntegerField(_("起始版本"), default=1)
    generation_high = models.PositiveIntegerField(_("终止版本"), null=True, blank=True)
    geom = models.MultiPolygonField(_("边界"), srid=SRID)
    geom_3857 = mercator_copy(models.MultiPolygonField)

    objects = GridQuerySet.as_manager()

    class Meta:
        verbose_name = _("网格")
        verbose_name_plural = _("网格")
        ordering = ["net__ordering", "code"]
        indexes = [
            gist("geom_3857", name="grid_geom3857_gist"),
            models.Index(fields=["net", "generation_low", "generation_high"], name="grid_net_gen_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class GridWorker(models.Model):
    """A member of a grid's team ("1+1+N"): grid head, full-time worker, part-timers, police, volunteers."""

    class Role(models.TextChoices):
        HEAD = "head", _("网格长")
        FULL_TIME = "full_time", _("专职网格员")
        PART_TIME = "part_time", _("兼职网格员")
        POLICE = "police", _("社区民警")
        VOLUNTEER = "volunteer", _("志愿者")

    user = models.OneToOneField(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="grid_worker"
    )
    name = models.CharField(_("姓名"), max_length=32)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.FULL_TIME)
    # Grid codes are stable across redraws for grids that do not change, so workers follow codes, not rows.
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    # The public map shows a worker's name and work phone only with their consent (个人信息保护法): off by
    # default, and a database default too, so bulk loaders (COPY) and raw SQL that omit it stay private.
    publish_contact = models.BooleanField(_("公开联系方式"), default=False, db_default=False)

    jurisdiction_field = "grid_code"
    personal_fields = ("name", "phone")  # masked by default (layers.masking), public only with consent

    class Meta:
        verbose_name = _("网格员")
        verbose_name_plural = _("网格员")

    def __str__(self) -> str:
        return f"{self.name} ({self.grid_code})"
