"""Placing a case: a point in any accepted CRS, or an address, to a building, grids of every net, admin chain.

A point on a shared grid boundary belongs to the grid with the smallest code among those touching it —
the same rule as the reverse geocoder — so a case is never in two grids of one net.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.gis.geos import Point

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
    """Grids of every net, the building and the chain for a CGCS2000 point inside the city.

    Grids, the boundary rule, the swapped-axes check and the nearest building all come from the reverse
    geocoder (geocoding.geocoder / geocoding.reverse), so a case and a reverse lookup of its point agree."""
    from geocoding.crs import parse_crs
    from geocoding.geocoder import grids_at, pick_grids
    from geocoding.reverse import nearest_building, swap_hint

    cgcs2000 = parse_crs(None)
    hits = grids_at([(point.x, point.y)])[0]
    if not hits:
        raise CaseError(
            422,
            "该位置不在本市范围内（经纬度是否颠倒？）",
            "the location is outside the city (are longitude and latitude swapped?)",
            hint="swapped_axes" if swap_hint(point.y, point.x, cgcs2000) else None,
        )
    chosen, grids = pick_grids(hits)
    near = nearest_building(point.x, point.y, cgcs2000)
    building = near if near is not None and near["distance_m"] <= BUILDING_SNAP_M else None
    return Placement(
        point=point,
        grids=grids,
        grid_code=chosen.code if chosen else "",
        building_id=building["building_id"] if building else None,
        address=building["address"] if building else "",
    )


def from_address(text: str) -> Placement:
    """The geocoder's best candidate; below PLACE_ME_BELOW the case is left for a dispatcher to place."""
    from geocoding.geocoder import geocode_many

    result = geocode_many([text], limit=1)[0]
    best = result.candidates[0] if result.candidates else None
    if best is None or best.get("building_id") is None or best["confidence"] < PLACE_ME_BELOW:
        return Placement(point=None, confidence=best["confidence"] if best else 0.0)
    placement = locate(Point(best["lon"], best["lat"], srid=4490))
    placement.building_id = best["building_id"]
    placement.address = best.get("address") or placement.address
    placement.confidence = best["confidence"]
    return placement
