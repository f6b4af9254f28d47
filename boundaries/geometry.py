"""Geometry plumbing for boundary edits: input CRSs, measuring in metres, snapping, single-part checks.

Edits are computed in the stored CGCS2000 coordinates (degrees), never round-tripped through a
projection: a grid's untouched edges keep their exact vertices, so the neighbour that shares them stays
seamless to the last bit.  Only measurements (areas, widths, snapping distances) go through the
Gauss-Kruger zone of the city, on copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
import shapely
import shapely.affinity
from django.contrib.gis.geos import GEOSGeometry
from shapely.geometry import LineString, MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge

from layers.models.geo import SRID, metres_per_degree

from .errors import Refusal

# Gaps and overlaps above this are errors (the rule), measured in the projected CRS.
TOLERANCE_M2 = 0.01
# A drawn line or polygon within this distance of an existing boundary is snapped onto it: a planner's
# mouse is not a survey instrument, and without snapping every hand-drawn edge leaves slivers.
SNAP_M = 0.5
# A grid narrower than this on average (2·area / perimeter) or smaller than SLIVER_AREA_M2 is a sliver.
# The thinnest real grid of the Daqing-sized fixture is 65 m wide on average and 19,000 m² in area.
SLIVER_WIDTH_M = 5.0
SLIVER_AREA_M2 = 200.0
METRES_PER_DEGREE = 111_320.0
# Pieces of an overlay result smaller than this (a square millimetre) are floating-point dust and may be
# dropped; anything larger is real area and must end up in some grid, or the partition leaks.
NOISE_M2 = 1e-6
# Vertices one input geometry may have: a hand-drawn or surveyed grid has hundreds; this leaves room for a
# whole street's outline while keeping every overlay of one operation well under a second.
MAX_VERTICES = 20_000

try:  # the geocoder's CRS helpers know GCJ-02 and BD-09 besides EPSG codes
    from geocoding import crs as _gcrs
except ImportError:  # pragma: no cover - geocoding/ is developed in parallel
    _gcrs = None


def metric_srid_for(lon: float) -> int:
    """The CGCS2000 3-degree Gauss-Kruger zone (EPSG:4534 = CM 75°E … 4554 = CM 135°E) of a longitude."""
    k = round((lon - 75.0) / 3.0)
    return 4534 + min(max(k, 0), 20)


@lru_cache(maxsize=32)
def _transformer(src: int, dst: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _apply(geom: BaseGeometry, fn) -> BaseGeometry:
    def xy(coords: np.ndarray) -> np.ndarray:
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])

    return shapely.transform(geom, xy)


def to_storage(geom: BaseGeometry, crs: str | None) -> BaseGeometry:
    """Input coordinates (CGCS2000 unless `crs` says otherwise) → EPSG:4490 lon/lat."""
    if crs is None or str(crs).strip().upper() in ("", "EPSG:4490", "4490", "CGCS2000"):
        result = geom
    elif _gcrs is not None:
        try:
            system = _gcrs.parse_crs(str(crs))
        except _gcrs.CRSError:
            raise Refusal(400, "bad_crs", f"不支持的坐标系：{crs}", f"unsupported crs: {crs}") from None
        result = _apply(geom, lambda x, y: _gcrs.to_storage(x, y, system))
    else:  # pragma: no cover - fallback without the geocoder: EPSG codes only
        text = str(crs).strip().upper()
        try:
            code = int(text.split(":")[-1])
            transformer = _transformer(code, SRID)
        except (ValueError, pyproj.exceptions.CRSError):
            raise Refusal(400, "bad_crs", f"不支持的坐标系：{crs}", f"unsupported crs: {crs}") from None
        result = _apply(geom, transformer.transform)
    coords = shapely.get_coordinates(result)
    if not len(coords) or not np.isfinite(coords).all():
        raise Refusal(400, "bad_geometry", "坐标无法转换", "coordinates cannot be transformed")
    if not ((coords[:, 0] >= -180) & (coords[:, 0] <= 180) & (np.abs(coords[:, 1]) <= 90)).all():
        raise Refusal(
            400,
            "bad_geometry",
            "坐标超出经纬度范围（是否缺少 crs？）",
            "coordinates out of lon/lat range (missing crs?)",
        )
    return result


def count_positions(coords: object, limit: int) -> int:
    """Positions in GeoJSON `coordinates`, counting stops once past `limit` (the input may be huge)."""
    n, stack = 0, [coords]
    while stack and n <= limit:
        item = stack.pop()
        if isinstance(item, list | tuple):
            if item and not isinstance(item[0], list | tuple):
                n += 1  # a position [x, y(, z)]
            else:
                stack.extend(item)
    return n


def _rings_closed(kind: str, coords: object) -> bool:
    """Whether every ring of a GeoJSON Polygon / MultiPolygon is closed (malformed nesting is left to
    shapely, which refuses it with its own reason)."""
    polys = coords if kind == "MultiPolygon" else [coords]
    try:
        rings = [ring for poly in polys for ring in poly]
        return all(len(ring) >= 4 and list(ring[0]) == list(ring[-1]) for ring in rings)
    except TypeError:
        return True


def parse_geojson(obj: object, kinds: tuple[str, ...], what: str, crs: str | None) -> BaseGeometry:
    """A GeoJSON geometry (or Feature) of one of `kinds`, in storage coordinates, or a 400 refusal."""
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, dict) or "type" not in obj or "coordinates" not in obj:
        raise Refusal(400, "bad_geometry", f"{what} 应为 GeoJSON 几何", f"{what} must be a GeoJSON geometry")
    if count_positions(obj["coordinates"], MAX_VERTICES) > MAX_VERTICES:
        raise Refusal(
            413,
            "too_many_vertices",
            f"{what} 的顶点超过 {MAX_VERTICES} 个",
            f"{what} has more than {MAX_VERTICES} vertices",
        )
    if obj.get("type") in ("Polygon", "MultiPolygon") and not _rings_closed(obj["type"], obj["coordinates"]):
        # shapely would close them silently; a ring that does not end where it starts is a drawing error
        raise Refusal(
            400,
            "unclosed_ring",
            f"{what} 的环未闭合（首尾坐标应相同，且至少 4 个点）",
            f"{what} has a ring that is not closed (the first and last positions must be equal, 4 at least)",
        )
    try:
        geom = shape(obj)
    except Exception:  # noqa: BLE001 - shapely raises several types for malformed coordinates
        raise Refusal(
            400, "bad_geometry", f"{what} 的坐标无法解析", f"{what}: unreadable coordinates"
        ) from None
    if geom.is_empty or geom.geom_type not in kinds:
        raise Refusal(
            400, "bad_geometry", f"{what} 应为 {'/'.join(kinds)}", f"{what} must be a {' or '.join(kinds)}"
        )
    geom = shapely.force_2d(geom)
    geom = to_storage(geom, crs)
    if not geom.is_valid:
        raise Refusal(
            422,
            "invalid_geometry",
            f"{what} 几何无效：{shapely.is_valid_reason(geom)}",
            f"{what} is not a valid geometry: {shapely.is_valid_reason(geom)}",
        )
    return geom


def from_db(geom: GEOSGeometry) -> BaseGeometry:
    return shapely.from_wkb(bytes(geom.wkb))


def to_db(geom: BaseGeometry) -> GEOSGeometry:
    multi = geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])
    return GEOSGeometry(memoryview(shapely.to_wkb(multi)), srid=SRID)


def polygons(geom: BaseGeometry) -> list[Polygon]:
    """The polygonal parts of any overlay result (lines and points from touching edges are dropped)."""
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    out: list[Polygon] = []
    for part in getattr(geom, "geoms", []):
        out.extend(polygons(part))
    return out


@dataclass(frozen=True)
class Metric:
    """Measurements in metres of storage geometries.

    Areas, lengths and widths use the local scale at a reference latitude (an affine map, good to about
    1 % across a city): it keeps collinear points collinear, so the hairline slivers an overlay leaves at
    a T-junction measure as the nothing they are (see boundaries.validation).  `project` is the real
    Gauss-Kruger projection, for coordinates people read or send."""

    srid: int
    lat: float = 45.0

    def project(self, geom: BaseGeometry) -> BaseGeometry:
        return _apply(geom, _transformer(SRID, self.srid).transform)

    def local(self, geom: BaseGeometry) -> BaseGeometry:
        kx, ky = metres_per_degree(self.lat)
        return shapely.affinity.scale(geom, xfact=kx, yfact=ky, origin=(0, 0))

    def area(self, geom: BaseGeometry) -> float:
        if geom.is_empty:
            return 0.0
        kx, ky = metres_per_degree(self.lat)
        return float(geom.area) * kx * ky

    def length(self, geom: BaseGeometry) -> float:
        return 0.0 if geom.is_empty else float(self.local(geom).length)

    def thin(self, geom: BaseGeometry, width: float) -> bool:
        """Whether no part of `geom` is wider than `width` metres (it vanishes when shrunk by width/2)."""
        if geom.is_empty:
            return True
        return bool(self.local(geom).buffer(-width / 2.0).is_empty)

    def sliver(self, geom: BaseGeometry) -> bool:
        g = self.local(geom)
        return g.area < SLIVER_AREA_M2 or 2.0 * g.area / max(g.length, 1e-9) < SLIVER_WIDTH_M

    def degrees(self, metres: float) -> float:
        """A distance in degrees that is at most `metres` in every direction (east-west it is less)."""
        return metres / METRES_PER_DEGREE


def single_polygon(geom: BaseGeometry, metric: Metric) -> Polygon | None:
    """The one polygon of an overlay result, after dropping floating-point dust; None when it has
    several parts or none."""
    parts = [p for p in polygons(geom) if metric.area(p) > NOISE_M2]
    if len(parts) != 1:
        return None
    return clean_holes(parts[0], metric)


def clean_holes(poly: Polygon, metric: Metric) -> Polygon:
    """Fill interior rings below the tolerance: slits left between neighbours by an overlay, never a grid
    (filling a hole cannot open a gap; a grid inside a hole is far larger than this)."""
    keep = [r for r in poly.interiors if metric.area(Polygon(r)) > TOLERANCE_M2]
    if len(keep) == len(poly.interiors):
        return poly
    return Polygon(poly.exterior, keep)


def extend_line(line: LineString, by: float) -> LineString:
    """The line lengthened at both ends along its end segments, so an end drawn on a boundary crosses it."""
    coords = list(line.coords)
    if len(coords) < 2:
        return line

    def push(a, b):
        dx, dy = b[0] - a[0], b[1] - a[1]
        n = math.hypot(dx, dy) or 1.0
        return (b[0] + dx / n * by, b[1] + dy / n * by)

    start = push(coords[1], coords[0])
    end = push(coords[-2], coords[-1])
    return LineString([start, *coords, end])


def shared_edge(a: BaseGeometry, b: BaseGeometry, tol: float = 0.0) -> LineString | None:
    """The boundary two grids share, when it is one connected line.  With `tol` (degrees), the parts of
    a's boundary within that distance of b's: a T-junction left by an earlier split puts a vertex on the
    neighbour's straight edge, where an exact intersection can fall apart into points."""
    common = a.boundary.intersection(b.boundary.buffer(tol) if tol > 0 else b.boundary)
    if common.is_empty:
        return None
    if tol > 0 and common.geom_type == "GeometryCollection":
        lines = [g for g in common.geoms if g.geom_type in ("LineString", "MultiLineString")]
        common = shapely.union_all(lines) if lines else None
        if common is None or common.is_empty:
            return None
    if common.geom_type not in ("LineString", "MultiLineString"):
        return None
    merged = linemerge(common) if common.geom_type == "MultiLineString" else common
    return merged if merged.geom_type == "LineString" and merged.length > 0 else None


def reading_point(geom: BaseGeometry, metric: Metric) -> tuple[float, float]:
    """Where a grid sits for the code order: its representative point, in metres."""
    p = metric.project(geom.representative_point())
    return (p.x, p.y)


def metric_of(draft) -> Metric:
    """The measuring frame of a draft: its Gauss-Kruger zone, and the latitude of its area's centre."""
    from layers.models import AdminUnit

    centre = AdminUnit.objects.only("geom").get(pk=draft.area_id).geom.centroid
    return Metric(draft.metric_srid, centre.y)
