"""Fixtures shared by the geocoder's test modules (tests/test_geocoding*.py import them from here)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def geocoder_ready(django_db_setup, django_db_blocker):
    """Build the name table once, committed, so that tests (each rolled back) do not rebuild it."""
    from geocoding import gazetteer

    with django_db_blocker.unblock():
        gazetteer.rebuild()


def building_with_units(estate: bool):
    """A building of the demo city that has house units: (building, one of its house units)."""
    from layers.models import Building, HouseUnit

    qs = Building.objects.exclude(estate="") if estate else Building.objects.filter(estate="")
    qs = qs.filter(units__isnull=False, door_number__regex=r"^\d+$").distinct().order_by("id")
    b = qs[len(qs) // 3] if estate else qs[len(qs) // 2]
    unit = HouseUnit.objects.filter(building=b).order_by("-floor", "unit", "room").first()
    return b, unit


def chain_names(b) -> dict[str, str]:
    community = b.community
    street = community.parent
    return {"community": community.name, "street": street.name, "district": street.parent.name}
