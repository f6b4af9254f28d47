"""Reverse geocoding: a point → the grid of every net, the admin chain, the nearest standard address.

The point may come in any accepted CRS (GCJ-02 / BD-09 from phones included); it is converted to
CGCS2000 first.  A point outside every grid is outside the city: the caller gets a 4xx with the reason,
and — when swapping the two numbers would land inside — a hint that the axes may be swapped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import connection

from . import crs as crsmod
from . import gazetteer
from .geocoder import grids_at, pick_grids

BOUNDARY_RULE = {
    "zh": "点恰好落在网格公共边或公共角上时，每个网取与该点相交（ST_Intersects）的网格中编码最小者；"
    "grid_code 取综合网格与专属网格中编码最小者。",
    "en": "A point exactly on a shared grid edge or corner belongs, in every net, to the grid with the "
    "smallest "
    "code among those that ST_Intersects it; grid_code is the smallest such code among the comprehensive "
    "and dedicated nets.",
}


class ReverseError(ValueError):
    def __init__(self, status: int, zh: str, en: str, hint: dict | None = None):
        super().__init__(en)
        self.status, self.zh, self.en, self.hint = status, zh, en, hint


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    system: crsmod.RefSystem


def parse_point(lon: str | None, lat: str | None, system: crsmod.RefSystem) -> Point:
    """Numbers, finite, inside the CRS's valid range; ReverseError (400) with the reason otherwise."""
    if lon in (None, "") or lat in (None, ""):
        raise ReverseError(400, "需要 lon 和 lat 两个参数", "both lon and lat are required")
    try:
        x, y = float(str(lon).strip()), float(str(lat).strip())
    except ValueError:
        raise ReverseError(400, "lon、lat 须为数字", "lon and lat must be numbers") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ReverseError(400, "lon、lat 须为有限数字", "lon and lat must be finite numbers")
    minx, miny, maxx, maxy = crsmod.valid_bounds(system.key)
    if not (minx <= x <= maxx and miny <= y <= maxy):
        hint = swap_hint(y, x, system) if (minx <= y <= maxx and miny <= x <= maxy) else None
        if system.geographic:
            zh = f"坐标超出范围：经度须在 -180～180，纬度须在 -90～90（收到 lon={x}, lat={y}）"
            en = (
                f"coordinates out of range: lon must be in -180..180 and lat in -90..90 "
                f"(got lon={x}, lat={y})"
            )
        else:
            zh = f"坐标超出 {system.label} 的适用范围（收到 x={x}, y={y}）"
            en = f"coordinates outside the area of use of {system.label} (got x={x}, y={y})"
        raise ReverseError(400, zh, en, hint)
    return Point(x, y, system)


def swap_hint(x: float, y: float, system: crsmod.RefSystem) -> dict | None:
    """A hint when the swapped pair (x, y) lies inside the city."""
    lon, lat = crsmod.to_storage(x, y, system)
    if grids_at([(float(lon), float(lat))])[0]:
        return {
            "zh": f"经纬度可能写反了：lon={x}, lat={y} 落在本市范围内",
            "en": f"the axes may be swapped: lon={x}, lat={y} lies inside the city",
            "lon": x,
            "lat": y,
        }
    return None


def reverse(point: Point, at=None) -> dict:
    """The grids (of the boundaries in force at `at`, now by default), chain and nearest address."""
    lon, lat = (float(v) for v in crsmod.to_storage(point.x, point.y, point.system))
    hits = grids_at([(lon, lat)], at)[0]
    if not hits:
        hint = swap_hint(point.y, point.x, point.system)
        raise ReverseError(
            404,
            f"该点不在本市范围内（{point.system.label} {point.x}, {point.y}，"
            f"即 CGCS2000 {lon:.6f}, {lat:.6f}）",
            f"the point is outside the city ({point.system.label} {point.x}, {point.y}, i.e. CGCS2000 "
            f"{lon:.6f}, {lat:.6f})",
            hint,
        )
    chosen, grids = pick_grids(hits)
    gaz = gazetteer.current()
    shared = {}
    for h in hits:
        shared.setdefault(h.net, []).append(h.code)
    chain = gaz.chain(chosen.community_id if chosen else None) if chosen else gaz.chain(hits[0].district_id)
    out = {
        "lon": crsmod.rounded(point.x, point.system),
        "lat": crsmod.rounded(point.y, point.system),
        "crs": point.system.label,
        "lon_cgcs2000": round(lon, 8),
        "lat_cgcs2000": round(lat, 8),
        "grid_code": chosen.code if chosen else None,
        "grids": grids,
        "admin": chain,
        "nearest": nearest_building(lon, lat, point.system),
    }
    if at is not None:
        out["date"] = at.date().isoformat()
    on_boundary = {net: codes for net, codes in shared.items() if len(codes) > 1}
    community_nets = sorted(h.code for h in hits if h.follows_communities)
    if on_boundary or len(community_nets) > 1:
        # The point is on a shared edge or corner: say which grids share it and by which rule one was chosen.
        out["boundary"] = {"shared": on_boundary, "community_nets": community_nets, "rule": BOUNDARY_RULE}
    return out


def nearest_building(lon: float, lat: float, system: crsmod.RefSystem) -> dict | None:
    """The nearest building's standard address and distance (m) to its footprint (0 inside it).
    The index orders by planar distance in degrees; the 16 nearest are re-ranked on the spheroid."""
    with connection.cursor() as cur:
        cur.execute(
            """
            with pt as (select st_setsrid(st_makepoint(%s, %s), 4490) g)
            select b.id, b.address, st_distance(b.geom::geography, pt.g::geography) d,
                   st_x(b.point), st_y(b.point), b.grid_code
            from (select id, address, geom, point, grid_code from layers_building
                  order by point <-> (select g from pt) limit 16) b, pt
            order by d, b.id limit 1
            """,
            [lon, lat],
        )
        row = cur.fetchone()
    if row is None:
        return None
    bid, address, dist, bx, by, grid_code = row
    x, y = crsmod.from_storage(bx, by, system)
    return {
        "building_id": bid,
        "address": address,
        # the building's own grid: near a grid's edge the nearest address may belong to the next grid
        "grid_code": grid_code or None,
        "distance_m": round(float(dist), 1),
        "lon": crsmod.rounded(x, system),
        "lat": crsmod.rounded(y, system),
    }
