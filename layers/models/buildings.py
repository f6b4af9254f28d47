"""Buildings (楼栋), their house units (户室) and the people registered in them (人口).

Every row that is not public carries `grid_code` (the comprehensive net's grid, 15 digits, so it starts
with the community, street and district codes): jurisdictions scope all of them with one prefix test.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.utils.translation import gettext_lazy as _

from .geo import SRID, gist, mercator_copy, point_on_surface


class BuildingUse(models.TextChoices):
    RESIDENTIAL = "residential", _("住宅")
    HOUSE = "house", _("农村住房")
    SHOP = "shop", _("商铺")
    OFFICE = "office", _("办公")
    SCHOOL = "school", _("学校")
    HOSPITAL = "hospital", _("医院")
    FACTORY = "factory", _("厂房")
    PUBLIC = "public", _("公共建筑")


class Building(models.Model):
    community = models.ForeignKey("layers.AdminUnit", on_delete=models.PROTECT, related_name="buildings")
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    road = models.ForeignKey("layers.Road", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    road_name = models.CharField(_("街路巷"), max_length=32)
    door_number = models.CharField(_("门牌号"), max_length=16)
    estate = models.CharField(_("小区"), max_length=32, blank=True)
    building_number = models.CharField(_("楼栋号"), max_length=16, blank=True)
    # The full standard address (GB/T 39609), district first, as one string.
    address = models.CharField(_("标准地址"), max_length=160)
    use = models.CharField(_("用途"), max_length=16, choices=BuildingUse.choices)
    floors = models.PositiveSmallIntegerField(_("层数"), default=1)
    households = models.PositiveIntegerField(_("户数"), default=0)
    residents = models.PositiveIntegerField(_("人数"), default=0)
    # The handing-over office's own building number (楼栋编码), the key its address register and house
    # units are joined by; and where the row came from ("synthetic" for generated rows of a real city).
    code = models.CharField(_("楼栋编码"), max_length=32, blank=True, db_default="", db_index=True)
    source = models.CharField(_("数据来源"), max_length=32, blank=True, db_default="")
    geom = models.MultiPolygonField(_("轮廓"), srid=SRID)
    geom_3857 = mercator_copy(models.MultiPolygonField)
    point = point_on_surface()

    jurisdiction_field = "grid_code"

    class Meta:
        verbose_name = _("楼栋")
        verbose_name_plural = _("楼栋")
        indexes = [
            gist("geom_3857", name="building_geom3857_gist"),
            gist("point", name="building_point_gist"),
            # which licensed sources are loaded (the map's attribution asks on every style request)
            models.Index(fields=["source"], condition=~models.Q(source=""), name="building_source_idx"),
        ]

    def __str__(self) -> str:
        return self.address


class Address(models.Model):
    """A row of the standard address register (标准地址, kept by 公安): every address a building has.

    A building's own `address` is the first register address found for it; the register keeps them all
    (a corner building has one door on each road).
    """

    building = models.ForeignKey(Building, on_delete=models.CASCADE, related_name="addresses")
    code = models.CharField(_("地址编码"), max_length=32, blank=True, db_index=True)
    address = models.CharField(_("标准地址"), max_length=160)
    road_name = models.CharField(_("街路巷"), max_length=32, blank=True)
    door_number = models.CharField(_("门牌号"), max_length=16, blank=True)
    source = models.CharField(_("数据来源"), max_length=32, blank=True, db_default="")

    jurisdiction_field = "building__grid_code"

    class Meta:
        verbose_name = _("标准地址")
        verbose_name_plural = _("标准地址")
        indexes = [models.Index(fields=["address"], name="address_address_idx")]

    def __str__(self) -> str:
        return self.address


class HouseUnit(models.Model):
    building = models.ForeignKey(Building, on_delete=models.CASCADE, related_name="units")
    unit = models.PositiveSmallIntegerField(_("单元"), default=1)
    floor = models.SmallIntegerField(_("楼层"), default=1)
    room = models.CharField(_("户室"), max_length=16)
    households = models.PositiveSmallIntegerField(_("户数"), default=1)
    residents = models.PositiveSmallIntegerField(_("人数"), default=0)
    source = models.CharField(_("数据来源"), max_length=32, blank=True, db_default="")

    jurisdiction_field = "building__grid_code"

    class Meta:
        verbose_name = _("户室")
        verbose_name_plural = _("户室")
        constraints = [
            models.UniqueConstraint(fields=["building", "unit", "room"], name="houseunit_building_room_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.building.address}{self.unit}单元{self.room}"


class SpecialGroup(models.TextChoices):
    LOW_INCOME = "low_income", _("低保户")
    DISABLED = "disabled", _("残疾人")
    ELDERLY_ALONE = "elderly_alone", _("独居老人")
    VETERAN = "veteran", _("退役军人")
    LEFT_BEHIND_CHILD = "left_behind_child", _("留守儿童")


class Resident(models.Model):
    """A registered person: the most sensitive rows of the system, masked by default, never public."""

    house_unit = models.ForeignKey(HouseUnit, on_delete=models.CASCADE, related_name="people")
    name = models.CharField(_("姓名"), max_length=32)
    id_number = models.CharField(_("身份证号"), max_length=18)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    gender = models.CharField(_("性别"), max_length=1, choices=[("M", _("男")), ("F", _("女"))])
    birth_date = models.DateField(_("出生日期"))
    tags = ArrayField(
        models.CharField(max_length=24, choices=SpecialGroup.choices),
        default=list,
        blank=True,
        verbose_name=_("特殊人群"),
    )

    jurisdiction_field = "house_unit__building__grid_code"
    personal_fields = ("name", "id_number", "phone", "birth_date", "tags")

    class Meta:
        verbose_name = _("人口")
        verbose_name_plural = _("人口")
        indexes = [GinIndex(fields=["tags"], name="resident_tags_gin")]

    def __str__(self) -> str:
        return f"{self.name[:1]}** ({self.pk})"
