"""The layer registry: every published layer declared once.

The OGC API, the vector tiles, the importers/exporters and the map pages all read this table, so a
layer's id, its published attributes and who may see it are decided in exactly one place.  A layer's id
is its OGC API collection id and its tile layer name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from gisapp.accounts.jurisdiction import jurisdiction_of, scope


@dataclass(frozen=True)
class LayerSpec:
    id: str
    title: str  # Chinese, shown to users
    title_en: str
    model_label: str  # "app_label.ModelName"
    geometry_type: str  # OGC simple-feature type of `geom`
    # published attribute name → ORM lookup path (never the whole row)
    properties: dict[str, str]
    public: bool
    # rows anyone may see in a public layer (e.g. only stations open to the public); None = all rows
    public_filter: Q | None = None
    # the rows the layer shows at all (e.g. only grids of the generation in force)
    base: Callable[[QuerySet], QuerySet] | None = None
    minzoom: int = 0
    maxzoom: int = 22
    # property names that may be used as equality filters in the OGC API
    filterable: tuple[str, ...] = field(default_factory=tuple)

    @property
    def model(self):
        from django.apps import apps

        return apps.get_model(self.model_label)

    def all_rows(self) -> QuerySet:
        qs = self.model.objects.all()
        return self.base(qs) if self.base else qs

    def visible_to(self, user) -> QuerySet | None:
        """Rows of this layer `user` may read, or None when the user may not read the layer at all."""
        qs = self.all_rows()
        authenticated = bool(user and user.is_authenticated)
        if self.public:
            if self.public_filter is None:
                return qs
            if not authenticated:
                return qs.filter(self.public_filter)
            if jurisdiction_of(user).everything:
                return qs
            return qs.filter(self.public_filter) | scope(qs, user)
        if not authenticated:
            return None
        return scope(qs, user)


def _current_grids(qs: QuerySet) -> QuerySet:
    return qs.current()


LAYERS: dict[str, LayerSpec] = {
    spec.id: spec
    for spec in [
        LayerSpec(
            id="admin-units",
            title="行政区划",
            title_en="Administrative units",
            model_label="layers.AdminUnit",
            geometry_type="MultiPolygon",
            public=True,
            maxzoom=16,
            properties={"code": "code", "level": "level", "name": "name", "parent_code": "parent__code"},
            filterable=("code", "level", "name", "parent_code"),
        ),
        LayerSpec(
            id="grids",
            title="网格",
            title_en="Grids",
            model_label="layers.Grid",
            geometry_type="MultiPolygon",
            public=True,
            base=_current_grids,
            minzoom=8,
            properties={
                "code": "code",
                "net": "net__code",
                "name": "name",
                "community_code": "community__code",
                "kind": "kind",
                "target_households": "target_households",
            },
            filterable=("code", "net", "name", "community_code", "kind"),
        ),
        LayerSpec(
            id="buildings",
            title="楼栋",
            title_en="Buildings",
            model_label="layers.Building",
            geometry_type="MultiPolygon",
            public=True,
            minzoom=13,
            properties={
                "address": "address",
                "grid_code": "grid_code",
                "use": "use",
                "floors": "floors",
                "road": "road_name",
                "door_number": "door_number",
                "estate": "estate",
                "building_number": "building_number",
                "community_code": "community__code",
            },
            filterable=("grid_code", "use", "road", "estate", "community_code"),
        ),
        LayerSpec(
            id="party-organisations",
            title="党组织",
            title_en="Party organisations",
            model_label="layers.PartyOrganisation",
            geometry_type="Point",
            public=False,
            minzoom=10,
            properties={
                "name": "name",
                "kind": "kind",
                "members": "members",
                "grid_code": "grid_code",
                "community_code": "community__code",
                "address": "address",
            },
            filterable=("kind", "grid_code", "community_code"),
        ),
        LayerSpec(
            id="service-stations",
            title="服务站点",
            title_en="Service stations",
            model_label="layers.ServiceStation",
            geometry_type="Point",
            public=True,
            public_filter=Q(is_public=True),
            minzoom=8,
            properties={
                "name": "name",
                "kind": "kind",
                "hours": "hours",
                "phone": "phone",
                "address": "address",
                "grid_code": "grid_code",
                "is_public": "is_public",
            },
            filterable=("kind", "grid_code"),
        ),
        LayerSpec(
            id="roads",
            title="道路",
            title_en="Roads",
            model_label="layers.Road",
            geometry_type="MultiLineString",
            public=True,
            properties={"name": "name", "kind": "kind"},
            filterable=("name", "kind"),
        ),
        LayerSpec(
            id="water",
            title="水系",
            title_en="Water",
            model_label="layers.Water",
            geometry_type="MultiPolygon",
            public=True,
            properties={"name": "name", "kind": "kind"},
            filterable=("kind",),
        ),
        LayerSpec(
            id="green",
            title="绿地",
            title_en="Green areas",
            model_label="layers.Green",
            geometry_type="MultiPolygon",
            public=True,
            properties={"name": "name", "kind": "kind"},
            filterable=("kind",),
        ),
        LayerSpec(
            id="cases",
            title="案件",
            title_en="Cases",
            model_label="cases.Case",
            geometry_type="Point",
            public=False,
            minzoom=8,
            properties={
                "number": "number",
                "category": "category__code",
                "category_name": "category__name",
                "status": "status",
                "channel": "channel",
                "reported_at": "reported_at",
                "grid_code": "grid_code",
                "address": "address",
            },
            filterable=("category", "status", "channel", "grid_code"),
        ),
    ]
}


def get_layer(layer_id: str) -> LayerSpec | None:
    return LAYERS.get(layer_id)
