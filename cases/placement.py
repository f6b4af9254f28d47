"""Placing a case: a point in any accepted CRS, or an address, to a building, grids of every net, admin chain.

A point on a shared grid boundary belongs to the grid with the smallest code among those touching it —
the same rule as the reverse geocoder — so a case is never in two grids of one net.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.gis.geos import Point
from django.db import connection

from .errors import CaseError

# A case this close to a footprint is "at" that building (a pavement in front of a door).
BUILDING_SNAP_M = 15.0
# Addresses the geocoder is less sure of than this wait in the "place me" queue instead of being guessed.
PLACE_ME_BELOW = 0.8


@dataclass
class Placement:
    point: Point | None
    grids: dict[str, str] = field(default_factory=dict)
    grid_code: str = ""
    building_id: int | None = None
    address: str = ""
    confidence: float | None = None

    @property
    def placed(self) -> bool:
        return self.point is not None and bool(self.grid_code)


def to_cgcs2000(location: dict) -> Point:
    """A `{"lon", "lat", "crs"}` object as a CGCS2000 point, refusing what cannot be a coordinate."""
    from geocoding.crs import CRSError, parse_crs, to_storage

    if not isinstance(location, dict):
        raise CaseError(
            400, "location 应为对象 {lon, lat, crs}", "location must be an object {lon, lat, crs}"
        )
    try:
        lon, lat = float(location["lon"]), float(location["lat"])
    except (KeyError, TypeError, ValueError):
        raise CaseError(400, "location 需要数值 lon 和 lat", "location needs numeric lon and lat") from None
    if lon != lon or lat != lat or abs(lon) == float("inf") or abs(lat) == float("inf"):
        raise CaseError(400, "坐标不是有限数值", "coordinates must be finite numbers")
    try:
        system = parse_crs(location.get("crs"))
        x, y = to_storage(lon, lat, system)
    except CRSError:
        raise CaseError(400, "不支持的坐标系", f"unsupported crs: {str(location.get('crs'))[:40]}") from None
    except ValueError as exc:
        raise CaseError(400, "坐标超出该坐标系的有效范围", f"coordinates out of range: {exc}"[:200]) from None
    return Point(float(x), float(y), srid=4490)


def locate(point: Point) -> Placement:
    """Grids of every net, the building and the chain for a CGCS2000 point inside the city."""
    with connection.cursor() as cur:
        cur.execute(
            """
            with p as (select st_setsrid(st_makepoint(%s, %s), 4490) g),
            gen as (
              select distinct on (net_id) net_id, number from layers_generation
              where status in ('published', 'superseded') and effective_from <= now()
              order by net_id, effective_from desc, number desc)
            select distinct on (n.id) n.code, n.partition_group, g.code
            from p, layers_grid g join layers_net n on n.id = g.net_id join gen on gen.net_id = g.net_id
            where st_intersects(g.geom, p.g) and g.generation_low <= gen.number
              and (g.generation_high is null or g.generation_high >= gen.number)
            order by n.id, g.code
            """,
            [point.x, point.y],
        )
        rows = cur.fetchall()
        if not rows:
            raise CaseError(
                422,
                "该位置不在本市范围内（经纬度是否颠倒？）",
                "the location is outside the city (are longitude and latitude swapped?)",
                hint="swapped_axes" if _inside_city(cur, point.y, point.x) else None,
            )
        cur.execute(
            """
            select b.id, b.address from layers_building b
            where st_dwithin(b.geom::geography, st_setsrid(st_makepoint(%s, %s), 4490)::geography, %s)
            order by b.geom <-> st_setsrid(st_makepoint(%s, %s), 4490) limit 1
            """,
            [point.x, point.y, BUILDING_SNAP_M, point.x, point.y],
        )
        building = cur.fetchone()
    grids = {net: code for net, _group, code in rows}
    community = [code for _net, group, code in rows if group == "community"]
    return Placement(
        point=point,
        grids=grids,
        grid_code=community[0] if community else "",
        building_id=building[0] if building else None,
        address=building[1] if building else "",
    )


def _inside_city(cur, lon: float, lat: float) -> bool:
    cur.execute(
        "select exists(select 1 from layers_adminunit where level = 'district' "
        "and st_intersects(geom, st_setsrid(st_makepoint(%s, %s), 4490)))",
        [lon, lat],
    )
    return cur.fetchone()[0]


def from_address(text: str) -> Placement:
    """The geocoder's best candidate; below PLACE_ME_BELOW the case is left for a dispatcher to place."""
    from geocoding.api import geocode_best  # the geocoder owns address matching

    best = geocode_best(text)
    if best is None or best["confidence"] < PLACE_ME_BELOW:
        return Placement(point=None, confidence=best["confidence"] if best else 0.0)
    placement = locate(Point(best["lon"], best["lat"], srid=4490))
    placement.building_id = best.get("building_id") or placement.building_id
    placement.address = best.get("address") or placement.address
    placement.confidence = best["confidence"]
    return placement
