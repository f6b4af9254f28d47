"""The case API's request and response schemas (pydantic, via django-ninja) that other apps share."""

from __future__ import annotations

from ninja import Schema
from pydantic import ConfigDict, Field


class Location(Schema):
    """A point as phones and partners send it; cases.placement.to_cgcs2000 checks the numbers."""

    model_config = ConfigDict(strict=True)
    lon: float | str
    lat: float | str
    crs: str | None = Field(
        None,
        examples=["GCJ02"],
        description="EPSG:4490 (default), EPSG:4326, EPSG:3857, EPSG:4534–4554, GCJ02, BD09",
    )
