"""Admin: aliases are data that planners edit; jobs can be watched (read-only)."""

from __future__ import annotations

from django.contrib import admin

from .models import Alias, GeocodeJob


@admin.register(Alias)
class AliasAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "target", "note", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "target", "note")


@admin.register(GeocodeJob)
class GeocodeJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "total",
        "done",
        "matched",
        "failed",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status",)
    exclude = ("rows",)  # up to 200,000 input rows: never rendered in a form
    readonly_fields = (
        "status",
        "created_by",
        "crs",
        "columns",
        "query_column",
        "total",
        "done",
        "matched",
        "failed",
        "error",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    )

    def has_add_permission(self, request) -> bool:
        return False
