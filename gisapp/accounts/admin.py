"""Django admin for departments, users' roles and jurisdictions, and (read-only) API tokens."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from layers.admin import MapModelAdmin

from .models import ApiToken, Department, Profile


@admin.register(Department)
class DepartmentAdmin(MapModelAdmin):
    list_display = ("code", "name")
    search_fields = ("^code", "name")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "jurisdiction_code", "department", "is_demo")
    list_filter = ("role", "is_demo", "department")
    search_fields = ("user__username", "^jurisdiction_code")
    list_select_related = ("user", "department")
    autocomplete_fields = ("user", "department")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by the API only; the admin lists them and may delete one to revoke it.

    The stored value is a hash and is not shown: it is useless to a reader and needs no attention.
    """

    list_display = ("user", "created_at", "expires_at", "is_valid")
    list_filter = ("expires_at",)
    search_fields = ("user__username",)
    list_select_related = ("user",)
    fields = ("user", "created_at", "expires_at")
    readonly_fields = fields
    date_hierarchy = "created_at"

    @admin.display(description=_("有效"), boolean=True)
    def is_valid(self, obj: ApiToken) -> bool:
        return obj.expires_at > timezone.now()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False
