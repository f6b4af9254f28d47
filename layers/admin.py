"""Django admin for every layer, with the offline map widget (layers.widgets.OfflineMapWidget).

Big tables (buildings ~10k rows in the demo and 250k in a city, house units ~100k / 1.3 M, residents
more) never render a <select> of every row: their foreign keys use autocomplete, and list filters list
streets (a few dozen) rather than communities or buildings.  Residents are personal data: only superusers
may open them at all, and lists show them masked.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .masking import mask_id_number, mask_name, mask_phone, personal_fields, reveal
from .models import (
    AdminLevel,
    AdminUnit,
    Building,
    CheckIn,
    Generation,
    Green,
    Grid,
    GridWorker,
    HouseUnit,
    Net,
    PartyOrganisation,
    Patrol,
    PatrolPoint,
    Resident,
    Road,
    ServiceStation,
    SpecialGroup,
    Water,
)
from .widgets import OfflineMapWidget


class MapModelAdmin(GISModelAdmin):
    """A GeoDjango admin whose geometry fields use the offline map (local OpenLayers, our own background).

    Database-generated geometry (geom_3857, point) is `editable=False`, so Django leaves it out of forms.
    """

    gis_widget = OfflineMapWidget
    # Counting every row of a filtered list costs a second full scan on big tables; "show all" is enough.
    show_full_result_count = False


class PersonalDataAdminMixin:
    """A change form shows the model's personal fields in clear: rendering one is a clear read, so it goes
    through `layers.masking.reveal` (the policy, and one audit row per rendering; a refusal is a 403)."""

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and personal_fields(obj):
            reveal(request, obj, personal_fields(obj), "admin:change")
        return super().render_change_form(request, context, add, change, form_url, obj)


class StreetFilter(admin.SimpleListFilter):
    """Filter by street (街道/乡镇): a code prefix, so no join and only a few dozen choices.

    The coded field is the model's own `jurisdiction_field` (the path the jurisdiction scoping uses);
    a subclass names another only for models without one (grids: their community's code).
    """

    title = _("街道/乡镇")
    parameter_name = "street"
    code_field: str | None = None

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        streets = AdminUnit.objects.filter(level=AdminLevel.STREET).order_by("code")
        streets = streets.values_list("code", "name")
        return [(code, f"{name} ({code})") for code, name in streets]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        code = self.value()
        if not code:
            return queryset
        if not code.isdigit():
            return queryset.none()
        field = self.code_field or getattr(queryset.model, "jurisdiction_field", "grid_code")
        return queryset.filter(**{f"{field}__startswith": code})


class GridStreetFilter(StreetFilter):
    code_field = "community__code"


class SpecialGroupFilter(admin.SimpleListFilter):
    """Residents in one special group (tags is an array, which the stock filters cannot read)."""

    title = _("特殊人群")
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(SpecialGroup.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in SpecialGroup.values:
            return queryset.filter(tags__contains=[self.value()])
        return queryset


@admin.register(AdminUnit)
class AdminUnitAdmin(MapModelAdmin):
    list_display = ("code", "name", "level", "parent", "rural")
    list_filter = ("level", "rural")
    search_fields = ("^code", "name")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)
    ordering = ("code",)


@admin.register(Net)
class NetAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "follows_communities", "partition_group", "ordering")
    search_fields = ("code", "name")


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ("net", "number", "status", "effective_from", "created_at")
    list_filter = ("net", "status")
    list_select_related = ("net",)


@admin.register(Grid)
class GridAdmin(MapModelAdmin):
    list_display = (
        "code",
        "name",
        "net",
        "kind",
        "community",
        "target_households",
        "generation_low",
        "generation_high",
    )
    list_filter = ("net", "kind", GridStreetFilter)
    search_fields = ("^code", "name")
    list_select_related = ("net", "community")
    autocomplete_fields = ("community", "district")


@admin.register(GridWorker)
class GridWorkerAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    list_display = ("masked_name", "role", "grid_code", "masked_phone", "publish_contact", "user")
    list_filter = ("role", "publish_contact", StreetFilter)
    search_fields = ("name", "^grid_code", "phone")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)

    @admin.display(description=_("姓名"))
    def masked_name(self, obj: GridWorker) -> str:
        return mask_name(obj.name)

    @admin.display(description=_("电话"))
    def masked_phone(self, obj: GridWorker) -> str:
        return mask_phone(obj.phone)


@admin.register(Building)
class BuildingAdmin(MapModelAdmin):
    list_display = ("address", "grid_code", "use", "floors", "households", "residents")
    list_filter = ("use", StreetFilter)
    search_fields = ("address", "road_name", "estate", "^grid_code")
    autocomplete_fields = ("community", "road")


@admin.register(HouseUnit)
class HouseUnitAdmin(admin.ModelAdmin):
    list_display = ("__str__", "unit", "floor", "room", "households", "residents")
    list_filter = (StreetFilter,)
    search_fields = ("building__address", "^building__grid_code")
    list_select_related = ("building",)
    autocomplete_fields = ("building",)
    show_full_result_count = False


@admin.register(Resident)
class ResidentAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    """Personal data: superusers only, masked in lists, each opened form audited; searchable only by the
    exact ID or phone number."""

    list_display = ("masked_name", "masked_id_number", "masked_phone", "gender", "tag_labels", "house_unit")
    list_filter = ("gender", SpecialGroupFilter, StreetFilter)
    # Exact matches only: nobody browses people by fragments of their names or numbers.
    search_fields = ("=id_number", "=phone")
    search_help_text = _("输入完整的身份证号或电话号码")
    list_select_related = ("house_unit__building",)
    autocomplete_fields = ("house_unit",)
    show_full_result_count = False

    @admin.display(description=_("姓名"))
    def masked_name(self, obj: Resident) -> str:
        return mask_name(obj.name)

    @admin.display(description=_("身份证号"))
    def masked_id_number(self, obj: Resident) -> str:
        return mask_id_number(obj.id_number)

    @admin.display(description=_("电话"))
    def masked_phone(self, obj: Resident) -> str:
        return mask_phone(obj.phone)

    @admin.display(description=_("特殊人群"))
    def tag_labels(self, obj: Resident) -> str:
        labels = dict(SpecialGroup.choices)
        return "、".join(str(labels.get(t, t)) for t in obj.tags)

    # Only superusers, whatever permissions a staff account was granted by mistake.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Resident | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Resident | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Resident | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser


@admin.register(PartyOrganisation)
class PartyOrganisationAdmin(MapModelAdmin):
    list_display = ("name", "kind", "members", "grid_code", "community")
    list_filter = ("kind", StreetFilter)
    search_fields = ("name", "address", "^grid_code")
    list_select_related = ("community",)
    autocomplete_fields = ("parent", "community")


@admin.register(ServiceStation)
class ServiceStationAdmin(MapModelAdmin):
    list_display = ("name", "kind", "is_public", "hours", "phone", "grid_code")
    list_filter = ("kind", "is_public", StreetFilter)
    search_fields = ("name", "address", "^grid_code")
    autocomplete_fields = ("community",)


@admin.register(Road)
class RoadAdmin(MapModelAdmin):
    list_display = ("name", "kind", "district")
    list_filter = ("kind",)
    search_fields = ("name",)
    list_select_related = ("district",)
    autocomplete_fields = ("district",)


@admin.register(Water)
class WaterAdmin(MapModelAdmin):
    list_display = ("__str__", "kind")
    list_filter = ("kind",)
    search_fields = ("name",)


@admin.register(Green)
class GreenAdmin(MapModelAdmin):
    list_display = ("__str__", "kind")
    list_filter = ("kind",)
    search_fields = ("name",)


# -- field work (layers.models.patrols): check-ins and patrol tracks come from the phones, not from forms
@admin.register(CheckIn)
class CheckInAdmin(MapModelAdmin):
    list_display = ("at", "worker", "grid_code", "inside", "accuracy_m", "crs", "note")
    list_filter = ("inside", StreetFilter)
    search_fields = ("^grid_code", "worker__name")
    list_select_related = ("worker",)
    autocomplete_fields = ("worker", "user")
    date_hierarchy = "at"


@admin.register(Patrol)
class PatrolAdmin(admin.ModelAdmin):
    list_display = ("day", "worker", "grid_code", "point_count", "length_m", "started_at", "ended_at")
    list_filter = (StreetFilter,)
    search_fields = ("^grid_code", "worker__name")
    list_select_related = ("worker",)
    autocomplete_fields = ("worker",)
    # Derived from the points (Patrol.refresh): shown, never typed.
    readonly_fields = ("started_at", "ended_at", "point_count", "length_m")
    date_hierarchy = "day"


@admin.register(PatrolPoint)
class PatrolPointAdmin(MapModelAdmin):
    list_display = ("at", "patrol", "accuracy_m", "batch_key", "seq")
    list_filter = (StreetFilter,)
    search_fields = ("^patrol__grid_code", "=batch_key")
    list_select_related = ("patrol__worker",)
    raw_id_fields = ("patrol",)
    show_full_result_count = False
