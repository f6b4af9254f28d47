"""The working calendar deadlines are counted on, and deadline rules per category and step."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


def default_periods() -> list[list[str]]:
    return [["08:30", "12:00"], ["13:30", "17:30"]]


def default_weekend() -> list[int]:
    return [5, 6]  # Saturday, Sunday (Monday = 0)


class WorkingCalendar(models.Model):
    """Working periods of a day and the weekend; the active calendar also selects the deadline preset."""

    name = models.CharField(_("名称"), max_length=32, unique=True)
    periods = models.JSONField(_("工作时段"), default=default_periods)
    weekend = models.JSONField(_("休息日"), default=default_weekend)
    deadline_preset = models.SlugField(_("时限方案"), max_length=16, default="default")
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("工作日历")
        verbose_name_plural = _("工作日历")

    def __str__(self) -> str:
        return self.name


class Holiday(models.Model):
    """A public holiday, or (workday=True) a weekend day that is worked instead (调休)."""

    date = models.DateField(_("日期"), unique=True)
    name = models.CharField(_("名称"), max_length=32)
    workday = models.BooleanField(_("调休上班"), default=False)

    class Meta:
        verbose_name = _("节假日")
        verbose_name_plural = _("节假日")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Step(models.TextChoices):
    REGISTER = "register", _("核实立案")
    ACCEPT = "accept", _("签收部署")
    HANDLE = "handle", _("处置反馈")
    CHECK = "check", _("核查结案")


class DeadlineRule(models.Model):
    """Working hours allowed for a step; a category rule beats its parent's, which beats the default."""

    preset = models.SlugField(_("时限方案"), max_length=16, default="default")
    category = models.ForeignKey(
        "cases.Category", null=True, blank=True, on_delete=models.CASCADE, related_name="deadline_rules"
    )
    step = models.CharField(_("环节"), max_length=16, choices=Step.choices)
    hours = models.FloatField(_("工作小时"))

    class Meta:
        verbose_name = _("时限规则")
        verbose_name_plural = _("时限规则")
        constraints = [
            models.UniqueConstraint(fields=["preset", "category", "step"], name="deadline_rule_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.preset}: {self.category or '*'} {self.step} {self.hours}h"
