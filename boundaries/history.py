"""Which grid held a place on a given day: the lookups behind `date=` (reverse geocoding, OGC API).

Stored grid codes on buildings, cases and places are only ever the current ones, so a question about a
past day is answered from the grid rows of the generation then in force, by geometry.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.gis.geos import Point
from django.utils import timezone

from layers.models import Grid
from layers.models.geo import SRID


def end_of_day(day: dt.date) -> dt.datetime:
    """The moment a day ends, local time: a boundary published during the day counts for that day."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.max), timezone.get_default_timezone())


def grids_at(lon: float, lat: float, at: dt.datetime | None = None) -> list[dict]:
    """One grid per net holding the point at `at` (now by default); on a shared edge the lowest code."""
    point = Point(lon, lat, srid=SRID)
    rows = (
        Grid.objects.current(at=at)
        .filter(geom__intersects=point)
        .select_related("net")
        .order_by("net__ordering", "code")
    )
    out: dict[str, dict] = {}
    for g in rows:
        out.setdefault(
            g.net.code,
            {
                "code": g.code,
                "name": g.name,
                "net": g.net.code,
                "kind": g.kind,
                "generation_low": g.generation_low,
                "generation_high": g.generation_high,
            },
        )
    return list(out.values())
