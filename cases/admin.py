"""Django admin for the case dictionary and the cases themselves (the case-loop screens come later)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from layers.admin import MapModelAdmin, StreetFilter

from .models import Case, Category


class TopCategoryFilter(admin.SimpleListFilter):
    """Filter by top-level class (市容环境 …): a dozen choices instead of every item of the dictionary."""

    title = _("大类")
    parameter_name = "top"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(str(pk), f"{code} {name}") for pk, code, name in
                Category.objects.filter(parent=None).order_by("code").values_list("pk", "code", "name")]

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
    list_display = ("code", "name", "kind", "parent", "deadline_hours")
    list_filter = ("kind", TopCategoryFilter)
    search_fields = ("^code", "name", "name_en")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)


@admin.register(Case)
class CaseAdmin(MapModelAdmin):
    list_display = ("number", "category", "status", "channel", "reported_at", "grid_code", "department")
    list_filter = ("status", "channel", TopCategoryFilter, StreetFilter, "department")
    search_fields = ("=number", "address", "^grid_code")
    date_hierarchy = "reported_at"
    list_select_related = ("category", "department")
    autocomplete_fields = ("category", "building", "department")
    ordering = ("-reported_at",)
