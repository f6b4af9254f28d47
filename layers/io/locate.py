"""What a feature's location says about it: its community, district, comprehensive grid, the city.

A file cannot carry our foreign keys, and codes typed into it may be stale, so the importer derives them
from geometry, the way the database would (`Grid.objects.current().filter(net__code="comprehensive",
geom__contains=point)`).  The polygons are loaded once into shapely STR-trees instead of asking PostGIS
once per feature: a city's 250,000 buildings would otherwise cost 500,000 queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from django.db.models import QuerySet
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep

from layers.models import AdminLevel, AdminUnit, Grid, Net

COMPREHENSIVE = "comprehensive"


@dataclass
class _Index:
    """Polygons with a payload each; `at(point)` is the payload of the polygon containing the point."""

    payloads: list = field(default_factory=list)
    geoms: list = field(default_factory=list)

    @cached_property
    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(np.array(self.geoms, dtype=object))

    def at(self, point: BaseGeometry) -> Any:
        if not self.geoms:
            return None
        # query(g, predicate) tests predicate(g, tree geometry): "within" = the polygon contains the point.
        hits = self.tree.query(point, predicate="within")
        if len(hits) == 0:
            # A point exactly on a shared boundary is contained by neither side: take the lowest code.
            hits = self.tree.query(point, predicate="covered_by")
        if len(hits) == 0:
            # A road along the city's outer edge may sit a hair outside after reprojection: ~1 m slack.
            hits = self.tree.query(point, predicate="dwithin", distance=1e-5)
        if len(hits) == 0:
            return None
        return self.payloads[min(hits)]


def _index(rows: QuerySet, payload) -> _Index:
    """Index `rows` by geometry; `payload(code)` is what a hit returns (ordered by code)."""
    index = _Index()
    for code, geom in rows.order_by("code").values_list("code", "geom"):
        index.payloads.append(payload(code))
        index.geoms.append(shapely.from_wkb(bytes(geom.wkb)))
    return index


class Locator:
    """Lazily loaded spatial lookups over what is in the database now."""

    @cached_property
    def units(self) -> dict[str, AdminUnit]:
        return {u.code: u for u in AdminUnit.objects.defer("geom", "geom_3857")}

    @cached_property
    def unit_geoms(self) -> dict[str, BaseGeometry]:
        """Boundaries of all admin units by code, for containment checks of what is imported into them."""
        rows = AdminUnit.objects.values_list("code", "geom")
        return {code: shapely.from_wkb(bytes(geom.wkb)) for code, geom in rows}

    @cached_property
    def communities(self) -> _Index:
        return _index(AdminUnit.objects.filter(level=AdminLevel.COMMUNITY), self.units.__getitem__)

    @cached_property
    def districts(self) -> _Index:
        return _index(AdminUnit.objects.filter(level=AdminLevel.DISTRICT), self.units.__getitem__)

    @cached_property
    def comprehensive_grids(self) -> _Index:
        return _index(Grid.objects.current().filter(net__code=COMPREHENSIVE), str)

    @cached_property
    def partition_grids(self) -> _Index:
        """Grids of the nets that partition communities with the comprehensive net (dedicated grids).

        A school's dedicated grid is cut out of the comprehensive net, so a building inside it belongs to
        that grid; it is only consulted when no comprehensive grid contains the point.
        """
        net = Net.objects.filter(code=COMPREHENSIVE).first()
        if net is None:
            return _Index()
        rows = Grid.objects.current().filter(net__partition_group=net.partition_group).exclude(net=net)
        return _index(rows, str)

    @cached_property
    def gridded_communities(self) -> set[str]:
        """Codes of the communities that have grids (a grid code starts with its community's code)."""
        return {str(code)[:12] for code in self.comprehensive_grids.payloads + self.partition_grids.payloads}

    @cached_property
    def has_grids(self) -> bool:
        return bool(self.comprehensive_grids.geoms or self.partition_grids.geoms)

    @cached_property
    def city(self) -> PreparedGeometry | None:
        """The area of the city (its city unit, else the union of its districts), prepared; None if empty."""
        top = AdminUnit.objects.filter(level=AdminLevel.CITY)
        if not top.exists():
            top = AdminUnit.objects.filter(level=AdminLevel.DISTRICT)
        geoms = [shapely.from_wkb(bytes(g.wkb)) for g in top.values_list("geom", flat=True)]
        if not geoms:
            return None
        return prep(shapely.union_all(geoms))

    def community_at(self, point: BaseGeometry) -> AdminUnit | None:
        return self.communities.at(point)

    def district_at(self, point: BaseGeometry) -> AdminUnit | None:
        return self.districts.at(point)

    def grid_code_at(self, point: BaseGeometry) -> str | None:
        return self.comprehensive_grids.at(point) or self.partition_grids.at(point)

    def district_of(self, unit: AdminUnit) -> AdminUnit | None:
        """Walk up the admin tree (community → street → district) using the codes' prefixes."""
        code = unit.code
        while code and len(code) > 6:
            code = code[:-3]
        district = self.units.get(code)
        return district if district is not None and district.level == AdminLevel.DISTRICT else None

    def in_city(self, geom: BaseGeometry) -> bool | None:
        """None when no admin units are loaded yet (then nothing can be said)."""
        return None if self.city is None else bool(self.city.intersects(geom))


def representative_point(geom: BaseGeometry) -> BaseGeometry:
    """The point that places a feature: inside polygons (PostGIS ST_PointOnSurface), mid-way on lines."""
    if geom.geom_type in ("LineString", "MultiLineString"):
        return (
            geom.interpolate(0.5, normalized=True)
            if geom.geom_type == "LineString"
            else (max(geom.geoms, key=lambda g: g.length).interpolate(0.5, normalized=True))
        )
    return geom.point_on_surface()
