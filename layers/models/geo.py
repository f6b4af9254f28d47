"""Geometry helpers shared by every layer model.

Canonical geometries are CGCS2000 (EPSG:4490).  Tiles are cut in Web Mercator, so each layer keeps a
database-generated EPSG:3857 copy: PostgreSQL recomputes it on every write, which means no code path can
forget to, and tile queries filter `geom_3857 && ST_TileEnvelope(...)` on its own GiST index.
"""

from __future__ import annotations

import math

from django.contrib.gis.db import models
from django.contrib.gis.db.models.functions import Transform
from django.contrib.postgres.indexes import GistIndex
from django.db.models import F, Func

SRID = 4490
TILE_SRID = 3857


def mercator_copy(field: type[models.GeometryField], source: str = "geom") -> models.GeneratedField:
    """A stored EPSG:3857 column kept by the database from the canonical `source` column."""
    return models.GeneratedField(
        expression=Transform(source, TILE_SRID),
        output_field=field(srid=TILE_SRID),
        db_persist=True,
        editable=False,
    )


def point_on_surface(source: str = "geom") -> models.GeneratedField:
    """A stored representative point: used to decide which grid a footprint lies in."""
    return models.GeneratedField(
        expression=Func(F(source), function="ST_PointOnSurface", output_field=models.PointField(srid=SRID)),
        output_field=models.PointField(srid=SRID),
        db_persist=True,
        editable=False,
    )


def gist(*fields: str, name: str) -> GistIndex:
    return GistIndex(fields=list(fields), name=name)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude at `lat` on the CGCS2000 ellipsoid (series to 1e-5)."""
    r = math.radians(lat)
    return (
        111412.84 * math.cos(r) - 93.5 * math.cos(3 * r),
        111132.954 - 559.822 * math.cos(2 * r) + 1.175 * math.cos(4 * r),
    )
