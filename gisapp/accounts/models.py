"""People and roles: every user belongs to a jurisdiction (a node of the admin/grid tree or a department)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    DISPATCHER = "dispatcher", _("指挥中心坐席")
    PLANNER = "planner", _("网格规划员")
    GRID_WORKER = "grid_worker", _("网格员")
    DEPARTMENT = "department", _("职能部门")
    LEADER = "leader", _("领导")
    ADMIN = "admin", _("管理员")


class Department(models.Model):
    code = models.CharField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    # What the department is (water, power, urban management …): routing rules name a kind, and the
    # department of that kind whose service area holds the case is the one that acts.
    kind = models.SlugField(_("类型"), max_length=32, blank=True)
    # Where the department acts ("the water company for this district"); null = the whole city.
    service_area = models.MultiPolygonField(_("服务范围"), srid=4490, null=True, blank=True)

    class Meta:
        verbose_name = _("职能部门")
        verbose_name_plural = _("职能部门")

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices)
    # An admin-unit code (6/9/12 digits) or a grid code (15 digits); blank with a department.
    jurisdiction_code = models.CharField(_("辖区代码"), max_length=24, blank=True)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT)
    is_demo = models.BooleanField(_("演示账号"), default=False)

    class Meta:
        verbose_name = _("用户角色")
        verbose_name_plural = _("用户角色")

    def __str__(self) -> str:
        return f"{self.user.username}: {self.role} @ {self.jurisdiction_code or self.department}"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the API; only its hash is stored, so a database dump leaks no credentials."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    @classmethod
    def issue(cls, user, lifetime: timezone.timedelta) -> str:
        raw = secrets.token_urlsafe(32)
        cls.objects.create(user=user, key_hash=hash_token(raw), expires_at=timezone.now() + lifetime)
        return raw


class PersonalDataAccess(models.Model):
    """One read of personal data in clear: who, when, which object and fields, from where, which request.

    Only `layers.masking.reveal` writes these rows, in the same call that hands out the clear values, so
    no code path can unmask without leaving one.  The table is append-only (a trigger refuses UPDATE and
    DELETE) and keeps the user's id and name rather than a foreign key: the log outlives the account.
    """

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    user_id = models.IntegerField(_("用户 ID"), null=True, db_index=True)
    username = models.CharField(_("用户"), max_length=150)
    role = models.CharField(_("角色"), max_length=16, blank=True)
    model = models.CharField(_("对象类型"), max_length=64)  # "layers.Resident", "cases.Case"
    object_id = models.CharField(_("对象"), max_length=64)
    object_label = models.CharField(_("对象说明"), max_length=120, blank=True)  # masked, like __str__
    fields = ArrayField(models.CharField(max_length=32), verbose_name=_("字段"))
    purpose = models.CharField(_("用途"), max_length=64)  # "admin:change", "api:case-detail" …
    method = models.CharField(_("方法"), max_length=8, blank=True)
    path = models.CharField(_("请求地址"), max_length=300, blank=True)
    remote_addr = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)
    user_agent = models.CharField(_("客户端"), max_length=200, blank=True)
    request_id = models.CharField(_("请求编号"), max_length=64, blank=True, db_index=True)

    class Meta:
        verbose_name = _("个人信息查看记录")
        verbose_name_plural = _("个人信息查看记录")
        indexes = [models.Index(fields=["model", "object_id"], name="pda_object_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.model}#{self.object_id}"
