"""Routing rules as data: category × severity → who acts (the articles' 属地 / 属主 principles)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .case import Level, Severity


class RoutingRule(models.Model):
    class Principle(models.TextChoices):
        LOCALITY = "locality", _("属地")
        OWNER = "owner", _("属主")
        EMERGENCY = "emergency", _("应急")

    # A rule on a top-level category applies to its items unless an item has its own; null = any category.
    category = models.ForeignKey(
        "cases.Category", null=True, blank=True, on_delete=models.CASCADE, related_name="routing_rules"
    )
    # null = any severity
    severity = models.CharField(_("等级"), max_length=16, choices=Severity.choices, blank=True)
    acts_at = models.CharField(_("处置层级"), max_length=16, choices=Level.choices)
    # For acts_at = department: the kind of department; the one whose service area holds the case acts.
    department_kind = models.SlugField(_("部门类型"), max_length=32, blank=True)
    principle = models.CharField(
        _("原则"), max_length=16, choices=Principle.choices, default=Principle.LOCALITY
    )
    # Among the rules that match a case, the highest priority wins (emergency > owner > locality > fallback).
    priority = models.SmallIntegerField(_("优先级"), default=0)
    note = models.CharField(_("说明"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("派遣规则")
        verbose_name_plural = _("派遣规则")

    def __str__(self) -> str:
        return f"{self.category or '*'} × {self.severity or '*'} → {self.acts_at} {self.department_kind}"
