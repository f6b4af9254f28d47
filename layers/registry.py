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
class TileBand:
    """How a layer is cut into vector tiles over a band of zoom levels (both ends included).

    Low zooms cannot afford the source geometry of a whole city: a band may simplify it (tolerance in
    screen pixels of a 256-px tile at the band's highest zoom, so the change stays below what the eye
    sees), drop features smaller than `min_area` square pixels, keep only some rows (`only`, a Q on the
    layer's own columns), publish fewer attributes, or replace points by pre-aggregated clusters.  The
    tiles app keeps a generalised copy of every such band up to date with database triggers.
    """

    minzoom: int
    maxzoom: int
    attributes: tuple[str, ...] | None = None  # subset of the layer's tile attributes; None: all of them
    simplify: float = 0.0  # pixels; 0: the source geometry
    min_area: float = 0.0  # square pixels; polygons smaller than this are left out of the band
    only: Q | None = None  # rows drawn in this band; None: all rows
    cluster: bool = False  # points only: clusters of a cell (1/16 of a tile) instead of features

    @property
    def generalised(self) -> bool:
        return bool(self.simplify or self.min_area)


@dataclass(frozen=True)
class TileOptions:
    """What the vector tiles publish of a layer (see tiles/ and docs/TILES.md)."""

    # tile attribute name → ORM lookup path; None: the layer's published `properties`
    attributes: dict[str, str] | None = None
    # zoom bands covering the layer's minzoom..maxzoom; empty: one band of source geometry
    bands: tuple[TileBand, ...] = ()
    # seconds browsers may keep a public tile without asking again (the server's own cache is exact)
    max_age: int = 60
    # clusters also count the rows matching this Q as `open` (e.g. cases not yet closed)
    cluster_open: Q | None = None
    # only rows of the boundary generation in force, the rule `base=_current_grids` applies to querysets
    current_generation: bool = False


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
    tiles: TileOptions = field(default_factory=TileOptions)

    def tile_attributes(self) -> dict[str, str]:
        return dict(self.tiles.attributes if self.tiles.attributes is not None else self.properties)

    def tile_bands(self) -> tuple[TileBand, ...]:
        return self.tiles.bands or (TileBand(self.minzoom, self.maxzoom),)

    def tile_band(self, z: int) -> TileBand | None:
        """The band drawing zoom `z`, or None when the layer has nothing to draw at that zoom."""
        for band in self.tile_bands():
            if band.minzoom <= z <= band.maxzoom:
                return band
        return None

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


BUILDING_MAP_PROPERTIES = {
    "address": "address",
    "grid_code": "grid_code",
    "use": "use",
    "floors": "floors",
    "road": "road_name",
    "door_number": "door_number",
    "estate": "estate",
    "building_number": "building_number",
    "community_code": "community__code",
}


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
            properties={
                "code": "code",
                "level": "level",
                "name": "name",
                "parent_code": "parent__code",
                "source": "source",
            },
            filterable=("code", "level", "name", "parent_code"),
            tiles=TileOptions(
                max_age=600,
                attributes={"code": "code", "level": "level", "name": "name", "parent_code": "parent__code"},
                bands=(
                    TileBand(0, 9, only=Q(level__in=["city", "district"]), simplify=1.0),
                    TileBand(10, 11, only=Q(level__in=["city", "district", "street"]), simplify=0.5),
                    TileBand(12, 16),
                ),
            ),
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
            tiles=TileOptions(
                max_age=300,
                current_generation=True,
                bands=(
                    # A grid is 1-3 px wide at z8-z9: draw the bigger ones, as outlines without names.
                    TileBand(8, 8, attributes=("code", "net"), simplify=1.0, min_area=2.0),
                    TileBand(9, 9, attributes=("code", "net"), simplify=1.0, min_area=2.0),
                    TileBand(10, 11, attributes=("code", "net"), simplify=0.5, min_area=0.5),
                    TileBand(12, 22),
                ),
            ),
        ),
        LayerSpec(
            id="buildings",
            title="楼栋",
            title_en="Buildings",
            model_label="layers.Building",
            geometry_type="MultiPolygon",
            public=True,
            minzoom=13,
            properties={**BUILDING_MAP_PROPERTIES, "code": "code", "source": "source"},
            filterable=("grid_code", "use", "road", "estate", "community_code", "code"),
            tiles=TileOptions(
                max_age=300,
                # the office's building number and the row's source are for the register, not the map
                attributes=BUILDING_MAP_PROPERTIES,
                bands=(TileBand(13, 14, attributes=("use", "floors")), TileBand(15, 22)),
            ),
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
            tiles=TileOptions(bands=(TileBand(10, 12, cluster=True), TileBand(13, 22))),
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
            tiles=TileOptions(bands=(TileBand(8, 12, cluster=True), TileBand(13, 22))),
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
            tiles=TileOptions(
                max_age=600,
                bands=(
                    TileBand(0, 9, only=Q(kind="arterial"), simplify=1.0),
                    TileBand(10, 12, only=~Q(kind="alley"), simplify=0.5),
                    TileBand(13, 22),
                ),
            ),
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
            tiles=TileOptions(
                max_age=600, bands=(TileBand(0, 11, simplify=1.0, min_area=1.0), TileBand(12, 22))
            ),
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
            tiles=TileOptions(
                max_age=600, bands=(TileBand(0, 11, simplify=1.0, min_area=2.0), TileBand(12, 22))
            ),
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
            tiles=TileOptions(
                # No free-text address on the map: with a category it could point at one household.
                attributes={
                    "number": "number",
                    "category": "category__code",
                    "category_name": "category__name",
                    "status": "status",
                    "channel": "channel",
                    "reported_at": "reported_at",
                    "grid_code": "grid_code",
                },
                cluster_open=~Q(status__in=["closed", "evaluated", "rejected", "merged"]),
                bands=(TileBand(8, 13, cluster=True), TileBand(14, 22)),
            ),
        ),
    ]
}


def get_layer(layer_id: str) -> LayerSpec | None:
    return LAYERS.get(layer_id)
