"""Administrative units: city → district/county → street/township → community/village.

Codes follow GB/T 2260 (6 digits), GB/T 10114 (+3) and the statistical division code (+3), so a unit's
code is a prefix of every code below it; jurisdictions use exactly that (see gisapp.accounts.jurisdiction).
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from .geo import SRID, gist, mercator_copy


class AdminLevel(models.TextChoices):
    CITY = "city", _("市")
    DISTRICT = "district", _("区/县")
    STREET = "street", _("街道/乡镇")
    COMMUNITY = "community", _("社区/村")


CODE_LENGTH = {AdminLevel.CITY: 6, AdminLevel.DISTRICT: 6, AdminLevel.STREET: 9, AdminLevel.COMMUNITY: 12}


class AdminUnit(models.Model):
    code = models.CharField(_("代码"), max_length=12, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("层级"), max_length=16, choices=AdminLevel.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # 'urban' communities (社区, 居委会) vs 'rural' villages (村); grids are sized differently.
    rural = models.BooleanField(_("农村"), default=False)
    # where the outline came from ("synthetic" for the generated communities of a real city)
    source = models.CharField(_("数据来源"), max_length=32, blank=True, db_default="")
    geom = models.MultiPolygonField(_("边界"), srid=SRID)
    geom_3857 = mercator_copy(models.MultiPolygonField)

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]
        indexes = [gist("geom_3857", name="adminunit_geom3857_gist")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def scope_prefix(self) -> str:
        """The code prefix shared by everything inside this unit (a city's districts share 4 digits)."""
        return self.code[:4] if self.level == AdminLevel.CITY else self.code
