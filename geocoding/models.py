"""What the geocoder keeps in the database: aliases (editable data), its name table, and batch jobs.

Nothing here points at layer rows with a foreign-key constraint: the city loader TRUNCATEs the layer
tables with CASCADE, and aliases and jobs must survive a reload of the city.  Aliases name their target by
admin code or by standard name instead, and are checked against the data when saved in the admin.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from gisapp.background import BackgroundJob, JobStatus  # noqa: F401 - JobStatus is imported from here too


class PlaceKind(models.TextChoices):
    CITY = "city", _("市")
    DISTRICT = "district", _("区/县")
    STREET = "street", _("街道/乡镇")
    COMMUNITY = "community", _("社区/村")
    ROAD = "road", _("街路巷")
    ESTATE = "estate", _("小区/单位")


ADMIN_KINDS = (PlaceKind.CITY, PlaceKind.DISTRICT, PlaceKind.STREET, PlaceKind.COMMUNITY)


class Alias(models.Model):
    """Another name people use for a place: an old name, a short name, a common misspelling."""

    name = models.CharField(
        _("别名"), max_length=64, help_text=_("人们实际输入的写法，如旧名、简称、常见错字")
    )
    kind = models.CharField(_("类型"), max_length=16, choices=PlaceKind.choices)
    target = models.CharField(
        _("指向"),
        max_length=64,
        help_text=_("行政区划填代码（如 990102001）；道路、小区填标准名称（如 学士街）"),
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("地名别名")
        verbose_name_plural = _("地名别名")
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "kind", "target"], name="alias_name_kind_target_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.target}"

    def clean(self) -> None:
        from layers.models import AdminUnit, Building, Road

        name = (self.name or "").strip()
        if not name:
            raise ValidationError({"name": _("别名不能为空")})
        if self.kind in ADMIN_KINDS:
            if not AdminUnit.objects.filter(code=self.target, level=self.kind).exists():
                raise ValidationError({"target": _("没有这个代码的行政区划（层级须与类型一致）")})
        elif self.kind == PlaceKind.ROAD:
            if not (
                Road.objects.filter(name=self.target).exists()
                or Building.objects.filter(road_name=self.target).exists()
            ):
                raise ValidationError({"target": _("没有这个名称的道路")})
        elif self.kind == PlaceKind.ESTATE:
            if not Building.objects.filter(estate=self.target).exists():
                raise ValidationError({"target": _("没有这个名称的小区或单位")})


class GazetteerState(models.Model):
    """One row: a token the database triggers renew whenever a named source table changes, and the token
    the name table was last built from.  Both live in the database, so a rolled-back rebuild is undone
    together with its rows."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    source_token = models.UUIDField(default=uuid.uuid4)
    built_token = models.UUIDField(null=True, blank=True)
    # gazetteer.BUILD_VERSION of the code that built the name table: a new parser rebuilds it
    built_version = models.PositiveIntegerField(default=0)
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("地名表状态")
        verbose_name_plural = _("地名表状态")


class PlaceName(models.Model):
    """The gazetteer as a table: every name key the parser knows, with a trigram index for typos.

    Derived data, rebuilt from the layers and the aliases (geocoding.gazetteer.rebuild); never edit it.
    `grams` is the key with a space after every character, so that pg_trgm sees each Chinese character as
    a word of its own: a one-character typo in a three-character road name then keeps half of the trigrams
    instead of one in seven.
    """

    key = models.CharField(max_length=80)
    grams = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=PlaceKind.choices)
    ref = models.CharField(max_length=64)  # admin code, or the standard road / estate name
    name = models.CharField(max_length=64)  # the standard name shown to users
    form = models.CharField(max_length=8)  # full | short | alias

    class Meta:
        verbose_name = _("地名")
        verbose_name_plural = _("地名")
        indexes = [
            GinIndex(OpClass("grams", name="gin_trgm_ops"), name="placename_grams_trgm"),
            models.Index(fields=["key"], name="placename_key_idx"),
        ]


class GeocodeJob(BackgroundJob):
    """A batch of addresses geocoded in the background; results are kept per chunk (see batch.py)."""

    crs = models.CharField(_("输出坐标系"), max_length=16, default="EPSG:4490")
    columns = models.JSONField(_("输入列"), default=list)
    query_column = models.PositiveSmallIntegerField(default=0)
    rows = models.JSONField(_("输入行"), default=list)  # list of lists of strings, the input as uploaded
    total = models.PositiveIntegerField(_("总行数"), default=0)
    done = models.PositiveIntegerField(_("已处理"), default=0)
    matched = models.PositiveIntegerField(_("已匹配"), default=0)
    failed = models.PositiveIntegerField(_("未匹配"), default=0)
    error = models.TextField(_("错误"), blank=True)

    class Meta(BackgroundJob.Meta):
        verbose_name = _("批量地理编码任务")
        verbose_name_plural = _("批量地理编码任务")


class GeocodeJobChunk(models.Model):
    """The CSV lines of one chunk of a job's results: a job resumes from its last stored chunk."""

    job = models.ForeignKey(GeocodeJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    csv = models.TextField()
    rows = models.PositiveIntegerField()
    matched = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="jobchunk_job_index_uniq")]
        ordering = ["job", "index"]
