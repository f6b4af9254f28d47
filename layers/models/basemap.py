"""Roads, water and green areas: plain layers from which the map draws its own offline basemap."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from .geo import SRID, gist, mercator_copy


class Road(models.Model):
    class Kind(models.TextChoices):
        ARTERIAL = "arterial", _("主干道")
        SECONDARY = "secondary", _("次干道")
        BRANCH = "branch", _("支路")
        RURAL = "rural", _("乡村道路")
        ALLEY = "alley", _("巷道")

    name = models.CharField(_("名称"), max_length=32)
    kind = models.CharField(_("等级"), max_length=16, choices=Kind.choices)
    district = models.ForeignKey("layers.AdminUnit", null=True, on_delete=models.PROTECT, related_name="+")
    geom = models.MultiLineStringField(_("中心线"), srid=SRID)
    geom_3857 = mercator_copy(models.MultiLineStringField)

    class Meta:
        verbose_name = _("道路")
        verbose_name_plural = _("道路")
        indexes = [gist("geom_3857", name="road_geom3857_gist")]

    def __str__(self) -> str:
        return self.name


class Water(models.Model):
    class Kind(models.TextChoices):
        RIVER = "river", _("河流")
        LAKE = "lake", _("湖泊")
        POND = "pond", _("水塘")

    name = models.CharField(_("名称"), max_length=32, blank=True)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    geom = models.MultiPolygonField(_("范围"), srid=SRID)
    geom_3857 = mercator_copy(models.MultiPolygonField)

    class Meta:
        verbose_name = _("水系")
        verbose_name_plural = _("水系")
        indexes = [gist("geom_3857", name="water_geom3857_gist")]

    def __str__(self) -> str:
        return self.name or str(self.pk)


class Green(models.Model):
    class Kind(models.TextChoices):
        PARK = "park", _("公园")
        SQUARE = "square", _("广场绿地")
        FARMLAND = "farmland", _("农田")

    name = models.CharField(_("名称"), max_length=32, blank=True)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    geom = models.MultiPolygonField(_("范围"), srid=SRID)
    geom_3857 = mercator_copy(models.MultiPolygonField)

    class Meta:
        verbose_name = _("绿地")
        verbose_name_plural = _("绿地")
        indexes = [gist("geom_3857", name="green_geom3857_gist")]

    def __str__(self) -> str:
        return self.name or str(self.pk)
