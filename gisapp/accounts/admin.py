"""Django admin for departments, users' roles and jurisdictions, and (read-only) API tokens and the
audit of clear reads of personal data."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from layers.admin import MapModelAdmin

from .models import ApiToken, Department, PersonalDataAccess, Profile


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


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(admin.ModelAdmin):
    """Who read whose personal data in clear: read-only for everyone (the table is append-only too)."""

    list_display = ("at", "username", "role", "model", "object_label", "field_list", "purpose", "remote_addr")
    list_filter = ("role", "model", "purpose")
    search_fields = ("=username", "=object_id", "=request_id", "=remote_addr")
    date_hierarchy = "at"
    show_full_result_count = False
    fields = (
        "at",
        "username",
        "user_id",
        "role",
        "model",
        "object_id",
        "object_label",
        "fields",
        "purpose",
        "method",
        "path",
        "remote_addr",
        "user_agent",
        "request_id",
    )
    readonly_fields = fields

    @admin.display(description=_("字段"))
    def field_list(self, obj: PersonalDataAccess) -> str:
        return ", ".join(obj.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PersonalDataAccess | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PersonalDataAccess | None = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: PersonalDataAccess | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser
