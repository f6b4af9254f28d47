"""Open311 GeoReport v2 clients: an API key each (only its hash is stored)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Open311Client(models.Model):
    name = models.CharField(_("名称"), max_length=64)
    key_hash = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("Open311 客户端")
        verbose_name_plural = _("Open311 客户端")

    def __str__(self) -> str:
        return self.name
