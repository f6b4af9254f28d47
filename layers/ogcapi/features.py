"""Rows of a registered layer as GeoJSON features, built by the database and a few string joins.

PostGIS writes each geometry (ST_AsGeoJSON) and Python only dumps the handful of published attributes,
so a page of 10,000 buildings costs one query and no GEOS object.  Only the attributes the registry
publishes are selected: a layer's other columns never leave the database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import time
from typing import Any

from django.contrib.gis.db.models import Extent
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.contrib.gis.geos import Polygon
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import QuerySet

from layers.models.geo import SRID
from layers.registry import LayerSpec

from .params import ApiError, ItemsQuery, bad_parameter

GEOMETRY_FIELD = "geom"
PRECISION = 7  # degrees: about 1 cm, beyond any survey the city owns
# The property each layer's `datetime` parameter applies to; layers without one have no temporal data,
# so `datetime` selects all of their features (OGC API – Features leaves that to the server).
TEMPORAL = {"cases": "reported_at"}
# Layers whose rows are boundary generations: `date=` answers with the rows in force on that day.
HISTORICAL = ("grids",)
EXTENT_TTL = 300.0
_extent_cache: dict[str, tuple[float, list[float] | None]] = {}


def _value(v: Any) -> Any:
    """JSON-ready attribute values; date-times as ISO 8601 in UTC."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC)
            return v.isoformat().replace("+00:00", "Z")
        return v.isoformat()
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, list | tuple):
        return [_value(x) for x in v]
    return v


def as_of(spec: LayerSpec, at: dt.datetime) -> LayerSpec:
    """The layer as it was at `at`: the same rules of who sees what, over the generation then in force."""
    return dataclasses.replace(spec, base=lambda qs: qs.current(at=at))


def filtered(spec: LayerSpec, qs: QuerySet, query: ItemsQuery) -> QuerySet:
    """Apply bbox, datetime and property filters; paging is left to the caller."""
    if query.bbox is not None:
        box = Polygon.from_bbox(query.bbox)
        box.srid = SRID  # CRS84 and CGCS2000 agree to centimetres and share the lon/lat axis order
        qs = qs.filter(**{f"{GEOMETRY_FIELD}__intersects": box})
    if query.datetime is not None and spec.id in TEMPORAL:
        start, end = query.datetime
        path = TEMPORAL[spec.id]
        if start is not None:
            qs = qs.filter(**{f"{path}__gte": start})
        if end is not None:
            qs = qs.filter(**{f"{path}__lte": end})
    for name, value in query.filters.items():
        try:  # the model field coerces the text (an integer property refuses 'abc' here, not in SQL)
            qs = qs.filter(**{spec.properties[name]: value})
        except (ValueError, TypeError, ValidationError):
            raise bad_parameter(
                f"属性 {name} 的值无效：{value}", f"invalid value for property {name}: {value}"
            ) from None
    return qs


def _select(spec: LayerSpec) -> tuple[list[str], list[str]]:
    names = list(spec.properties)
    paths = [spec.properties[n] for n in names]
    return names, paths


def feature_texts(spec: LayerSpec, qs: QuerySet) -> list[str]:
    """One GeoJSON Feature (serialised) per row of `qs`, in the order of `qs`."""
    names, paths = _select(spec)
    rows = qs.values_list("pk", *paths, AsGeoJSON(GEOMETRY_FIELD, precision=PRECISION))
    out = []
    for row in rows:
        pk, *values, geometry = row
        props = {n: _value(v) for n, v in zip(names, values, strict=True)}
        out.append(
            f'{{"type":"Feature","id":{int(pk)},"geometry":{geometry or "null"},'
            f'"properties":{json.dumps(props, ensure_ascii=False, default=str)}}}'
        )
    return out


def feature_text(spec: LayerSpec, qs: QuerySet, fid: int, links: list[dict]) -> str | None:
    """The same serialisation as in a page (so a feature by id equals it in the list), plus its links."""
    texts = feature_texts(spec, qs.filter(pk=fid))
    if not texts:
        return None
    return texts[0][:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}"


def extent(spec: LayerSpec) -> list[float] | None:
    """The layer's bounding box in CRS84, cached for a few minutes: it moves only when the city is reloaded.

    Taken over what the public may see, or over all rows of a non-public layer (a box around the city
    says nothing about any one row).
    """
    now = time.monotonic()
    cached = _extent_cache.get(spec.id)
    if cached and now - cached[0] < EXTENT_TTL:
        return cached[1]
    qs = spec.visible_to(None) if spec.public else spec.all_rows()
    box = qs.aggregate(box=Extent(GEOMETRY_FIELD))["box"] if qs is not None else None
    value = [round(c, PRECISION) for c in box] if box else None
    _extent_cache[spec.id] = (now, value)
    return value


def published_field_type(spec: LayerSpec, name: str) -> dict:
    """A JSON Schema for one published property, from the model field it reads; nullable when the field
    or any relation on the way to it may be null (a district's `parent_code`, say)."""
    model = spec.model
    field = None
    nullable = False
    try:
        for part in spec.properties[name].split("__"):
            field = model._meta.get_field(part)
            nullable = nullable or bool(getattr(field, "null", False))
            if field.is_relation and field.related_model is not None:
                model = field.related_model
    except FieldDoesNotExist:
        return {"type": "string", "nullable": True}
    internal = field.get_internal_type() if field is not None else ""
    if internal in ("DateTimeField",):
        schema = {"type": "string", "format": "date-time"}
    elif internal in ("DateField",):
        schema = {"type": "string", "format": "date"}
    elif internal.endswith("IntegerField") or internal in ("AutoField", "BigAutoField"):
        schema = {"type": "integer"}
    elif internal in ("FloatField", "DecimalField"):
        schema = {"type": "number"}
    elif internal == "BooleanField":
        schema = {"type": "boolean"}
    else:
        schema = {"type": "string"}
    return {**schema, "nullable": True} if nullable else schema


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "Unauthorized",
        "该图层需要登录后访问",
        "this collection requires authentication",
        headers={"WWW-Authenticate": 'Bearer realm="onenet"'},
    )
