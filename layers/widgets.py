"""The admin's map widget, built to work on a closed network.

Django's `OpenLayersWidget` loads OpenLayers from cdn.jsdelivr.net and draws NASA or OpenStreetMap
tiles from the internet; neither is reachable where this system runs.  `OfflineMapWidget` loads the
OpenLayers build that `frontend/` copies from npm into our static files, and draws its background from
our own database instead of a tile server: district / street / community boundaries, roads, water, green
areas and, when zoomed in, the neighbouring grids (see `basemap()` below), so a planner editing a grid
sees the streets and the grids around it.
"""

from __future__ import annotations

import json
import math

from django.contrib.gis.db.models import Extent
from django.contrib.gis.forms.widgets import OpenLayersWidget
from django.contrib.gis.geos import Polygon
from django.db.models import F, Func, TextField, Value
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from .models import AdminLevel, AdminUnit, Green, Grid, Road, Water

# Below this many metres per pixel the background shows every road, road names and the grids.
DETAIL_RESOLUTION = 20.0
# Extent shown when the database holds no administrative unit yet: mainland China, EPSG:3857.
CHINA_EXTENT_3857 = (8126322.8, 2037548.5, 15028131.3, 7170156.3)
# No background request returns more than this many features per layer (a city has ~50k road segments).
MAX_FEATURES_PER_LAYER = 20000


class OfflineMapWidget(OpenLayersWidget):
    """OpenLayers from our static files and a vector background from our database: no internet needed."""

    template_name = "layers/offline-openlayers.html"

    class Media:
        # extend=False: the parent's Media lists the CDN copies of ol.js / ol.css; they must not be merged in.
        extend = False
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css", "layers/offline-map.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js", "layers/offline-map.js")

    def get_context(self, name: str, value: object, attrs: dict | None) -> dict:
        """Django's context plus where the background comes from and where an empty map opens."""
        context = super().get_context(name, value, attrs)
        context["basemap_config_id"] = f"{context.get('id') or context['module']}_basemap"
        context["basemap_config"] = {
            "url": basemap_url(),
            "home": home_extent(),
            "detailResolution": DETAIL_RESOLUTION,
            "loadError": str(_("底图加载失败")),
        }
        return context


def basemap_url() -> str | None:
    """The URL of the background data, or None when the URLconf does not publish it (the map stays plain)."""
    try:
        return reverse("admin-basemap")
    except NoReverseMatch:
        return None


def home_extent() -> list[float]:
    """Where an empty map opens (add pages): the districts' extent (EPSG:3857), else all units, else China."""
    for qs in (AdminUnit.objects.filter(level=AdminLevel.DISTRICT), AdminUnit.objects.all()):
        extent = qs.aggregate(extent=Extent("geom_3857"))["extent"]
        if extent is not None:
            return list(extent)
    return list(CHINA_EXTENT_3857)


class _SimplifiedGeoJSON(Func):
    """GeoJSON of the geometry generalised for the view: 0.1 m digits, no `crs` member (options 0)."""

    template = "ST_AsGeoJSON(ST_SimplifyPreserveTopology(%(expressions)s), 1, 0)"
    output_field = TextField()


def _parse_bbox(raw: str) -> tuple[float, float, float, float] | None:
    try:
        values = tuple(float(v) for v in raw.split(","))
    except ValueError:
        return None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        return None
    minx, miny, maxx, maxy = values
    if minx >= maxx or miny >= maxy:
        return None
    # Clamp to the Web Mercator world, so a map zoomed far out still asks for something valid.
    limit = 20037508.34
    return max(minx, -limit), max(miny, -limit), min(maxx, limit), min(maxy, limit)


def basemap(request: HttpRequest) -> HttpResponse:
    """GeoJSON (EPSG:3857) of the background inside `bbox` (EPSG:3857), generalised for the view.

    `detail=1` (the map is zoomed in) adds minor roads and the grids in force; otherwise only main roads,
    so opening the whole district stays small.  Only public layers are read; the URL is wrapped in
    `admin_site.admin_view`, so only staff reach it anyway.
    """
    bbox = _parse_bbox(request.GET.get("bbox", ""))
    if bbox is None:
        return JsonResponse(
            {
                "error": {
                    "zh": "bbox 参数应为 minx,miny,maxx,maxy (EPSG:3857)",
                    "en": "bbox must be minx,miny,maxx,maxy in EPSG:3857",
                }
            },
            status=400,
        )
    detail = request.GET.get("detail") == "1"
    envelope = Polygon.from_bbox(bbox)
    envelope.srid = 3857
    # About one pixel of a 1000-pixel-wide map: invisible, and it keeps the district view light.
    tolerance = Value(max((bbox[2] - bbox[0]) / 2000.0, 0.2))
    geojson = _SimplifiedGeoJSON(F("geom_3857"), tolerance)

    levels = [AdminLevel.DISTRICT, AdminLevel.STREET] + ([AdminLevel.COMMUNITY] if detail else [])
    road_kinds = [c.value for c in Road.Kind] if detail else [Road.Kind.ARTERIAL, Road.Kind.SECONDARY]
    layers = [
        ("green", Green.objects.all(), ["kind", "name"]),
        ("water", Water.objects.all(), ["kind", "name"]),
        ("road", Road.objects.filter(kind__in=road_kinds), ["kind", "name"]),
        ("admin", AdminUnit.objects.filter(level__in=levels), ["level", "name", "code"]),
    ]
    if detail:
        grids = Grid.objects.current().filter(net__follows_communities=True)
        layers.append(("grid", grids, ["code", "name"]))

    parts: list[str] = []
    for layer, qs, fields in layers:
        rows = (
            qs.filter(geom_3857__bboverlaps=envelope)
            .annotate(_gj=geojson)
            .values_list("pk", "_gj", *fields)[:MAX_FEATURES_PER_LAYER]
        )
        for pk, gj, *props in rows:
            properties = {"layer": layer, **dict(zip(fields, props, strict=True))}
            parts.append(
                f'{{"type":"Feature","id":"{layer}-{pk}","properties":'
                f'{json.dumps(properties, ensure_ascii=False)},"geometry":{gj}}}'
            )
    body = '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"
    return HttpResponse(body, content_type="application/geo+json; charset=utf-8")
