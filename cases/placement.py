"""Placing a case: a point in any accepted CRS, or an address, to a building, grids of every net, admin chain.

A point on a shared grid boundary belongs to the grid with the smallest code among those touching it —
the same rule as the reverse geocoder — so a case is never in two grids of one net.
"""

from __future__ import annotations

import math
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


def outside_city(swapped: bool) -> CaseError:
    """The refusal of a point outside the city; `hint: "swapped_axes"` when it is inside with lon and lat
    swapped."""
    return CaseError(
        422,
        "该位置不在本市范围内（经纬度是否颠倒？）",
        "the location is outside the city (are longitude and latitude swapped?)",
        hint="swapped_axes" if swapped else None,
    )


def to_cgcs2000(location: dict) -> Point:
    """A `{"lon", "lat", "crs"}` object as a CGCS2000 point, refusing what cannot be a coordinate.

    The numbers are checked by the reverse geocoder's parse_point — finite, inside the CRS's area of use,
    with the swapped-axes hint — so a report and a reverse lookup refuse the same points the same way."""
    from geocoding.crs import CRSError, parse_crs, to_storage
    from geocoding.reverse import ReverseError, parse_point

    if not isinstance(location, dict):
        raise CaseError(
            400, "location 应为对象 {lon, lat, crs}", "location must be an object {lon, lat, crs}"
        )
    lon, lat = location.get("lon"), location.get("lat")
    if not all(isinstance(v, int | float | str) and not isinstance(v, bool) for v in (lon, lat)):
        raise CaseError(400, "location 需要数值 lon 和 lat", "location needs numeric lon and lat")
    crs = location.get("crs")
    try:
        system = parse_crs(crs if isinstance(crs, str) or crs is None else "?")
    except CRSError:
        raise CaseError(400, "不支持的坐标系", f"unsupported crs: {str(crs)[:40]}") from None
    try:
        point = parse_point(str(lon)[:64], str(lat)[:64], system)
        x, y = (float(v) for v in to_storage(point.x, point.y, system))
    except ReverseError as exc:
        if exc.hint:  # out of range, but in the city with the axes swapped
            raise outside_city(swapped=True) from None
        raise CaseError(exc.status, exc.zh, exc.en) from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise CaseError(400, "坐标无法转换", "the coordinates cannot be transformed")
    return Point(x, y, srid=4490)


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
        raise outside_city(swapped=bool(swap_hint(point.y, point.x, cgcs2000)))
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
