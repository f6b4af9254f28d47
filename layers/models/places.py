"""Points of the map: party organisations (党组织) and service stations (网格驿站, 便民服务站 …)."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from .geo import SRID, gist, mercator_copy


class PartyOrganisation(models.Model):
    class Kind(models.TextChoices):
        COMMITTEE = "committee", _("党委")
        GENERAL_BRANCH = "general_branch", _("党总支")
        BRANCH = "branch", _("党支部")

    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    members = models.PositiveIntegerField(_("党员人数"), default=0)
    community = models.ForeignKey("layers.AdminUnit", on_delete=models.PROTECT, related_name="+")
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    address = models.CharField(_("地址"), max_length=160, blank=True)
    geom = models.PointField(_("位置"), srid=SRID)
    geom_3857 = mercator_copy(models.PointField)

    jurisdiction_field = "grid_code"

    class Meta:
        verbose_name = _("党组织")
        verbose_name_plural = _("党组织")
        indexes = [gist("geom_3857", name="partyorg_geom3857_gist")]

    def __str__(self) -> str:
        return self.name


class ServiceStation(models.Model):
    class Kind(models.TextChoices):
        GRID_STATION = "grid_station", _("网格驿站")
        CONVENIENCE = "convenience", _("便民服务站")
        GOVERNANCE = "governance", _("综治中心")
        POLICE = "police", _("警务站")

    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    hours = models.CharField(_("开放时间"), max_length=64, blank=True)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    is_public = models.BooleanField(_("对公众开放"), default=True)
    address = models.CharField(_("地址"), max_length=160, blank=True)
    community = models.ForeignKey("layers.AdminUnit", null=True, on_delete=models.PROTECT, related_name="+")
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True, blank=True)
    geom = models.PointField(_("位置"), srid=SRID)
    geom_3857 = mercator_copy(models.PointField)

    # Public stations are on the public map; the others only inside a jurisdiction.
    jurisdiction_field = "grid_code"

    class Meta:
        verbose_name = _("服务站点")
        verbose_name_plural = _("服务站点")
        indexes = [gist("geom_3857", name="station_geom3857_gist")]

    def __str__(self) -> str:
        return self.name
