"""Django admin for the case dictionary, the loop's rules and (read-only) the cases and their trail.

Cases change only through the loop's transitions (cases.services), which write the trail; the admin
shows them but cannot edit them, so nothing can bypass 全程留痕.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from layers.admin import MapModelAdmin, PersonalDataAdminMixin, StreetFilter

from .models import (
    Campaign,
    Case,
    CaseEvent,
    Category,
    DeadlineRule,
    Holiday,
    Open311Client,
    RoutingRule,
    WorkingCalendar,
)


class TopCategoryFilter(admin.SimpleListFilter):
    """Filter by top-level class (市容环境 …): a dozen choices instead of every item of the dictionary."""

    title = _("大类")
    parameter_name = "top"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            (str(pk), f"{code} {name}")
            for pk, code, name in Category.objects.filter(parent=None)
            .order_by("code")
            .values_list("pk", "code", "name")
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        field = "parent_id" if queryset.model is Category else "category__parent_id"
        return queryset.filter(**{field: int(value)})


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent", "deadline_hours", "default_severity")
    list_filter = ("kind", TopCategoryFilter)
    search_fields = ("^code", "name", "name_en")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)


@admin.register(Case)
class CaseAdmin(PersonalDataAdminMixin, MapModelAdmin):
    list_display = ("number", "category", "status", "channel", "reported_at", "grid_code", "department")
    list_filter = ("status", "channel", TopCategoryFilter, StreetFilter, "department")
    search_fields = ("=number", "address", "^grid_code")
    date_hierarchy = "reported_at"
    list_select_related = ("category", "department")
    autocomplete_fields = ("category", "building", "department")
    ordering = ("-reported_at",)
    inlines = []

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    fields = ("at", "action", "from_status", "to_status", "actor", "actor_role", "comment", "changes")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


CaseAdmin.inlines = [CaseEventInline]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("priority", "category", "severity", "acts_at", "department_kind", "principle", "note")
    list_filter = ("acts_at", "principle", "severity")
    autocomplete_fields = ("category",)
    ordering = ("-priority", "id")


@admin.register(DeadlineRule)
class DeadlineRuleAdmin(admin.ModelAdmin):
    list_display = ("preset", "category", "step", "hours")
    list_filter = ("preset", "step")
    autocomplete_fields = ("category",)


@admin.register(WorkingCalendar)
class WorkingCalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "deadline_preset", "active")


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ("date", "name", "workday")
    date_hierarchy = "date"


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "area_code", "starts_at", "ends_at")
    search_fields = ("name", "^area_code")
    raw_id_fields = ("created_by",)


@admin.register(Open311Client)
class Open311ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "active")
    exclude = ("key_hash",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are issued by a command that shows the raw key once
