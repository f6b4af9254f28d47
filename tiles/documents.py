"""TileJSON 3.0.0 for any set of layers, and the MapLibre style that draws the whole one-net map.

Both are built from the registry (ids, titles, tile attributes, zoom ranges), so a new layer appears in
the TileJSON without edits here; the style decides how each layer looks.  URLs are absolute (MapLibre
requires it for `glyphs` and for tiles fetched by its workers), made from the request's own host.
"""

from __future__ import annotations

from typing import Any

from layers.registry import LAYERS, LayerSpec

from .plan import plans

TILEJSON_MAXZOOM = 16  # beyond, MapLibre over-zooms z16 tiles (4096 units: ~0.6 m at z16)
ATTRIBUTION = "一网统管电子地图 · one-net map (synthetic demo data 示例数据)"
# Credits owed by the data loaded (Building.source), e.g. the real city's OpenStreetMap footprints.
SOURCE_CREDITS = {"osm": "© OpenStreetMap contributors (ODbL)"}


def attribution(sources: list[str] | None = None) -> str:
    """The map's attribution: ours, and the credit of every licensed source whose rows are loaded."""
    return " · ".join([ATTRIBUTION, *(SOURCE_CREDITS[s] for s in sources or () if s in SOURCE_CREDITS)])


def _field_type(spec: LayerSpec, name: str, path: str) -> str:
    model = spec.model
    for part in path.split("__")[:-1]:
        model = model._meta.get_field(part).related_model
    field = model._meta.get_field(path.split("__")[-1])
    internal = field.get_internal_type()
    if internal in ("BooleanField",):
        return "Boolean"
    if "Integer" in internal or internal in ("FloatField", "DecimalField", "BigAutoField", "AutoField"):
        return "Number"
    return "String"


def vector_layer(spec: LayerSpec) -> dict[str, Any]:
    p = plans()[spec.id]
    fields = {name: _field_type(spec, name, path) for name, path in spec.tile_attributes().items()}
    if p.cluster_table:
        fields["count"] = "Number"
        if spec.tiles.cluster_open is not None:
            fields["open"] = "Number"
    bands = [
        {
            "minzoom": b.minzoom,
            "maxzoom": b.maxzoom,
            "cluster": b.cluster,
            "attributes": list(p.attributes(b)),
        }
        for b in p.bands
    ]
    return {
        "id": spec.id,
        "description": f"{spec.title} {spec.title_en}"
        + ("" if spec.public else "（需要登录 login required）"),
        "minzoom": spec.minzoom,
        "maxzoom": min(spec.maxzoom, TILEJSON_MAXZOOM),
        "fields": fields,
        # Not in TileJSON 3.0.0 but allowed as an extension: what each zoom band of the layer carries.
        "x-onenet-bands": bands,
    }


def tilejson(
    base: str, layer_ids: list[str], bounds: list[float] | None, data_sources: list[str] | None = None
) -> dict[str, Any]:
    specs = [LAYERS[i] for i in layer_ids]
    minzoom = min(s.minzoom for s in specs)
    maxzoom = min(max(s.maxzoom for s in specs), TILEJSON_MAXZOOM)
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": "、".join(s.title for s in specs),
        "description": " · ".join(f"{s.title} {s.title_en}" for s in specs),
        "version": "1.0.0",
        "attribution": attribution(data_sources),
        "scheme": "xyz",
        "tiles": [f"{base}/tiles/{','.join(layer_ids)}/{{z}}/{{x}}/{{y}}.mvt"],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "vector_layers": [vector_layer(s) for s in specs],
    }
    if bounds:
        doc["bounds"] = [round(v, 6) for v in bounds]
        doc["center"] = [
            round((bounds[0] + bounds[2]) / 2, 6),
            round((bounds[1] + bounds[3]) / 2, 6),
            max(minzoom, min(11, maxzoom)),
        ]
    return doc


# ------------------------------------------------------------------------------------------------ style

PUBLIC = "onenet"
INTERNAL = "onenet-internal"
STATUS_COLOURS = [
    "match", ["get", "status"],
    "reported", "#e8590c", "registered", "#f08c00", "dispatched", "#1c7ed6", "in_progress", "#7048e8",
    "handled", "#0ca678", "closed", "#868e96", "evaluated", "#868e96",
    "#adb5bd",
]  # fmt: skip


# A cluster's count is drawn inside its circle, and circles take no part in label collision: the count
# is always shown and never pushes a street's or community's name off the map.
COUNT_IN_CIRCLE = {"text-allow-overlap": True, "text-ignore-placement": True}


def _text(field: Any, font: str, size: Any = 12, **layout: Any) -> dict[str, Any]:
    return {"text-field": field, "text-font": [font], "text-size": size, **layout}


def _halo(colour: str = "#333333") -> dict[str, Any]:
    return {"text-color": colour, "text-halo-color": "#ffffff", "text-halo-width": 1.5}


def style(
    base: str, font: str, bounds: list[float] | None, internal: bool, data_sources: list[str] | None = None
) -> dict[str, Any]:
    """The whole map from our own tiles: basemap, boundaries, grids, buildings, stations; cases and party
    organisations too when the request is logged in.  Chinese labels need no online glyph server."""
    public_ids = [s.id for s in LAYERS.values() if s.public]
    internal_ids = [s.id for s in LAYERS.values() if not s.public]
    sources: dict[str, Any] = {
        PUBLIC: {
            "type": "vector",
            "tiles": [f"{base}/tiles/{','.join(public_ids)}/{{z}}/{{x}}/{{y}}.mvt"],
            "minzoom": 0,
            "maxzoom": TILEJSON_MAXZOOM,
            "attribution": attribution(data_sources),
        }
    }
    if bounds:
        sources[PUBLIC]["bounds"] = bounds
    if internal and internal_ids:
        sources[INTERNAL] = {
            "type": "vector",
            "tiles": [f"{base}/tiles/{','.join(internal_ids)}/{{z}}/{{x}}/{{y}}.mvt"],
            "minzoom": min(LAYERS[i].minzoom for i in internal_ids),
            "maxzoom": TILEJSON_MAXZOOM,
        }
    zoom = ["zoom"]
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": "#f4f1ea"}},
        {
            "id": "green", "type": "fill", "source": PUBLIC, "source-layer": "green",
            "paint": {"fill-color": ["match", ["get", "kind"], "farmland", "#eef2d4", "#c9e4b4"]},
        },
        {
            "id": "water", "type": "fill", "source": PUBLIC, "source-layer": "water",
            "paint": {"fill-color": "#a9cff0"},
        },
        {
            "id": "roads", "type": "line", "source": PUBLIC, "source-layer": "roads",
            "layout": {"line-cap": "round", "line-join": "round"},
            "paint": {
                "line-color": [
                    "match", ["get", "kind"], "arterial", "#f6c96b", "secondary", "#fbe3a1", "#ffffff",
                ],
                "line-width": [
                    "interpolate", ["exponential", 1.6], zoom, 8,
                    ["match", ["get", "kind"], "arterial", 1.5, 0.5], 16,
                    ["match", ["get", "kind"], "arterial", 14, "secondary", 10, "alley", 3, 6],
                ],
            },
        },
        {
            "id": "buildings", "type": "fill", "source": PUBLIC, "source-layer": "buildings", "minzoom": 13,
            "paint": {"fill-color": "#dcd3c8", "fill-outline-color": "#bcae9e"},
        },
        {
            "id": "community-boundaries", "type": "line", "source": PUBLIC, "source-layer": "admin-units",
            "minzoom": 11, "filter": ["==", ["get", "level"], "community"],
            "paint": {"line-color": "#9c88c4", "line-width": 1, "line-dasharray": [2, 2]},
        },
        {
            "id": "grid-outlines", "type": "line", "source": PUBLIC, "source-layer": "grids",
            "filter": ["in", ["get", "net"], ["literal", ["comprehensive", "dedicated"]]],
            "paint": {
                "line-color": ["match", ["get", "net"], "dedicated", "#2f9e44", "#e8590c"],
                # quiet while a whole district is on screen (streets and their names first), full
                # strength from the zoom where one grid is a street block
                "line-width": ["interpolate", ["linear"], zoom, 8, 0.3, 12, 0.6, 14, 1.2, 16, 2],
                "line-opacity": ["interpolate", ["linear"], zoom, 8, 0.25, 12, 0.4, 14, 0.9],
            },
        },
        {
            "id": "overlay-grid-outlines", "type": "line", "source": PUBLIC, "source-layer": "grids",
            "filter": ["in", ["get", "net"], ["literal", ["police", "mediation"]]],
            "layout": {"visibility": "none"},  # 多网合一: switched on by the map pages
            "paint": {
                "line-color": ["match", ["get", "net"], "police", "#1c7ed6", "#ae3ec9"],
                "line-width": 1.2, "line-dasharray": [4, 2],
            },
        },
        {
            "id": "district-boundaries", "type": "line", "source": PUBLIC, "source-layer": "admin-units",
            "filter": ["in", ["get", "level"], ["literal", ["city", "district"]]],
            "paint": {
                "line-color": "#6741d9", "line-width": ["interpolate", ["linear"], zoom, 8, 1.5, 14, 3],
            },
        },
        {
            "id": "street-boundaries", "type": "line", "source": PUBLIC, "source-layer": "admin-units",
            "minzoom": 10, "filter": ["==", ["get", "level"], "street"],
            "paint": {"line-color": "#7950f2", "line-width": 1.5, "line-dasharray": [3, 2]},
        },
        {
            "id": "road-labels", "type": "symbol", "source": PUBLIC, "source-layer": "roads", "minzoom": 14,
            "filter": ["!=", ["get", "kind"], "alley"],
            "layout": _text(["get", "name"], font, 12, **{"symbol-placement": "line"}),
            "paint": _halo("#5c4b2e"),
        },
        {
            "id": "grid-labels", "type": "symbol", "source": PUBLIC, "source-layer": "grids", "minzoom": 14,
            "filter": ["in", ["get", "net"], ["literal", ["comprehensive", "dedicated"]]],
            "layout": _text(["get", "name"], font, 11), "paint": _halo("#c2410c"),
        },
        {
            "id": "community-labels", "type": "symbol", "source": PUBLIC, "source-layer": "admin-units",
            "minzoom": 12, "maxzoom": 15, "filter": ["==", ["get", "level"], "community"],
            "layout": _text(["get", "name"], font, 12), "paint": _halo("#5f3dc4"),
        },
        {
            "id": "street-labels", "type": "symbol", "source": PUBLIC, "source-layer": "admin-units",
            "minzoom": 10, "maxzoom": 13, "filter": ["==", ["get", "level"], "street"],
            "layout": _text(["get", "name"], font, 13), "paint": _halo("#5f3dc4"),
        },
        {
            "id": "district-labels", "type": "symbol", "source": PUBLIC, "source-layer": "admin-units",
            "maxzoom": 11, "filter": ["==", ["get", "level"], "district"],
            "layout": _text(["get", "name"], font, 15), "paint": _halo("#4c2f9e"),
        },
        {
            # a "cluster" of one station is drawn as the station itself, not as a bubble saying 1
            "id": "station-clusters", "type": "circle", "source": PUBLIC, "source-layer": "service-stations",
            "filter": [">", ["coalesce", ["get", "count"], 0], 1],
            "paint": {
                "circle-color": "#0ca678", "circle-opacity": 0.8,
                "circle-radius": ["interpolate", ["linear"], ["get", "count"], 1, 5, 50, 12, 500, 20],
            },
        },
        {
            "id": "station-cluster-counts", "type": "symbol", "source": PUBLIC,
            "source-layer": "service-stations",
            "filter": [">", ["coalesce", ["get", "count"], 0], 1],
            "layout": _text(["to-string", ["get", "count"]], font, 11, **COUNT_IN_CIRCLE),
            "paint": {"text-color": "#ffffff"},
        },
        {
            "id": "stations", "type": "circle", "source": PUBLIC, "source-layer": "service-stations",
            "filter": ["<=", ["coalesce", ["get", "count"], 1], 1],
            "paint": {
                "circle-color": "#0ca678", "circle-radius": 6, "circle-stroke-color": "#fff",
                "circle-stroke-width": 2,
            },
        },
        {
            "id": "station-labels", "type": "symbol", "source": PUBLIC, "source-layer": "service-stations",
            "minzoom": 15, "filter": ["!", ["has", "count"]],
            "layout": _text(["get", "name"], font, 11, **{"text-offset": [0, 1.2], "text-anchor": "top"}),
            "paint": _halo("#087f5b"),
        },
    ]  # fmt: skip
    if internal and internal_ids:
        layers += [
            {
                "id": "party-clusters", "type": "circle", "source": INTERNAL,
                "source-layer": "party-organisations",
                "filter": ["has", "count"],
                "paint": {"circle-color": "#c92a2a", "circle-opacity": 0.75,
                          "circle-radius": ["interpolate", ["linear"], ["get", "count"], 1, 5, 100, 16]},
            },
            {
                "id": "party-organisations", "type": "circle", "source": INTERNAL,
                "source-layer": "party-organisations", "filter": ["!", ["has", "count"]],
                "paint": {"circle-color": "#c92a2a", "circle-radius": 5, "circle-stroke-color": "#fff",
                          "circle-stroke-width": 1.5},
            },
            {
                "id": "case-clusters", "type": "circle", "source": INTERNAL, "source-layer": "cases",
                "filter": ["has", "count"],
                "paint": {
                    "circle-color": ["case", [">", ["get", "open"], 0], "#e8590c", "#868e96"],
                    "circle-opacity": 0.8,
                    "circle-radius": ["interpolate", ["linear"], ["get", "count"], 1, 6, 100, 14, 2000, 26],
                },
            },
            {
                "id": "case-cluster-counts", "type": "symbol", "source": INTERNAL, "source-layer": "cases",
                "filter": ["has", "count"],
                "layout": _text(["to-string", ["get", "open"]], font, 11, **COUNT_IN_CIRCLE),
                "paint": {"text-color": "#ffffff"},
            },
            {
                "id": "cases", "type": "circle", "source": INTERNAL, "source-layer": "cases",
                "filter": ["!", ["has", "count"]],
                "paint": {"circle-color": STATUS_COLOURS, "circle-radius": 5,
                          "circle-stroke-color": "#fff", "circle-stroke-width": 1},
            },
            {
                "id": "case-labels", "type": "symbol", "source": INTERNAL, "source-layer": "cases",
                "minzoom": 17,
                "filter": ["!", ["has", "count"]],
                "layout": _text(
                    ["get", "category_name"], font, 11, **{"text-offset": [0, 1.1], "text-anchor": "top"}
                ),
                "paint": _halo("#495057"),
            },
        ]  # fmt: skip
    doc: dict[str, Any] = {
        "version": 8,
        "name": "一网统管电子地图 one-net map",
        "metadata": {
            "onenet:about": "离线底图：全部数据来自本系统矢量瓦片；数字、字母和标点的字形由本服务器提供，"
            "汉字由浏览器本地字体绘制（MapLibre localIdeographFontFamily）。 Offline: every layer comes from "
            "our own tiles; glyphs for digits, Latin and punctuation are served here, ideographs are drawn "
            "with the browser's local font.",
        },
        "glyphs": f"{base}/tiles/glyphs/{{fontstack}}/{{range}}.pbf",
        "sources": sources,
        "layers": layers,
    }
    if bounds:
        doc["center"] = [round((bounds[0] + bounds[2]) / 2, 6), round((bounds[1] + bounds[3]) / 2, 6)]
        doc["zoom"] = 11
    return doc
