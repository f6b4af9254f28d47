"""Published property names ↔ file column names, and parsing of attribute values.

A file column is matched to a published property (the registry's names, which the OGC API uses too) by
the property name, its shapefile name, GDAL's blind 10-character truncation of it, or the model field's
Chinese verbose name, case-insensitively: that accepts our own exports in every format, files written
by ogr2ogr from them, and the Chinese headers common in files made by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils import translation

from .errors import FeatureError

FEATURE_ID = "id"
SHAPEFILE_NAME_LENGTH = 10

# Shapefile (DBF) column names are at most 10 characters.  Properties longer than that get a stable,
# readable short name here (documented in docs/import-export.md); the import accepts both spellings.
SHAPEFILE_NAMES: dict[str, str] = {
    "parent_code": "parent_cd",
    "community_code": "comm_code",
    "target_households": "target_hh",
    "door_number": "door_no",
    "building_number": "bldg_no",
    "category_name": "cat_name",
    "reported_at": "reported",
}


def shapefile_names(properties: Iterable[str]) -> dict[str, str]:
    """property → unique column name of at most 10 characters, for one layer's properties."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for prop in properties:
        name = SHAPEFILE_NAMES.get(prop, prop)[:SHAPEFILE_NAME_LENGTH]
        n = 1
        while name.lower() in used:  # DBF names compare case-insensitively
            n += 1
            suffix = str(n)
            name = SHAPEFILE_NAMES.get(prop, prop)[: SHAPEFILE_NAME_LENGTH - len(suffix)] + suffix
        used.add(name.lower())
        out[prop] = name
    return out


def model_field(model: type[models.Model], lookup: str) -> models.Field:
    """The field at the end of an ORM lookup path such as "community__code"."""
    parts = lookup.split("__")
    field = model._meta.get_field(parts[0])
    for part in parts[1:]:
        field = field.related_model._meta.get_field(part)
    return field


def column_aliases(prop: str, field: models.Field | None) -> tuple[str, ...]:
    names = [prop, SHAPEFILE_NAMES.get(prop, prop), prop[:SHAPEFILE_NAME_LENGTH]]
    if field is not None and field.verbose_name:
        with translation.override(None):
            names.append(str(field.verbose_name))
    return tuple(dict.fromkeys(names))


def match_columns(
    file_columns: Iterable[str], wanted: dict[str, tuple[str, ...]]
) -> tuple[dict[str, str], list[str]]:
    """Map each wanted property to the file column that carries it; also return the unused columns."""
    by_lower = {c.lower(): c for c in file_columns}
    matched: dict[str, str] = {}
    taken: set[str] = set()
    for prop, aliases in wanted.items():
        for alias in aliases:
            column = by_lower.get(alias.lower())
            if column is not None and column not in taken:
                matched[prop] = column
                taken.add(column)
                break
    unused = [c for c in file_columns if c not in taken]
    return matched, unused


_TRUE = {"true", "t", "yes", "y", "1", "是", "真", "对"}
_FALSE = {"false", "f", "no", "n", "0", "否", "假", "不"}
_INT_RANGES = {
    models.PositiveSmallIntegerField: (0, 32767),
    models.SmallIntegerField: (-32768, 32767),
    models.PositiveIntegerField: (0, 2147483647),
    models.IntegerField: (-2147483648, 2147483647),
}


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _as_text(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a door number typed as a DBF number comes back as 12.0
    return str(raw).strip()


def choice_lookup(field: models.Field) -> dict[str, str]:
    """Accepted spellings of each choice: its code and its Chinese label (as a GBK file would say it)."""
    table: dict[str, str] = {}
    with translation.override(None):
        for value, label in field.choices or ():
            table[str(value).lower()] = value
            table[str(label).lower()] = value
    return table


def parse_value(field: models.Field, raw: Any) -> Any:
    """The Python value for `field` from a file value, or None when blank; FeatureError when unusable."""
    if _blank(raw):
        return None
    if isinstance(field, models.BooleanField):
        if isinstance(raw, bool):
            return raw
        text = _as_text(raw).lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise FeatureError(f"不是布尔值 not a boolean: {raw!r}")
    if isinstance(field, models.IntegerField):
        try:
            number = float(raw) if not isinstance(raw, int) else raw
        except (TypeError, ValueError):
            raise FeatureError(f"不是整数 not an integer: {raw!r}") from None
        if isinstance(number, float) and not number.is_integer():
            raise FeatureError(f"不是整数 not an integer: {raw!r}")
        value = int(number)
        low, high = next((r for t, r in _INT_RANGES.items() if isinstance(field, t)), (None, None))
        if low is not None and not low <= value <= high:
            raise FeatureError(f"超出范围 out of range {low}..{high}: {value}")
        return value
    if field.choices:
        value = choice_lookup(field).get(_as_text(raw).lower())
        if value is None:
            codes = ", ".join(str(v) for v, _ in field.choices)
            raise FeatureError(f"取值无效 not one of ({codes}): {raw!r}")
        return value
    text = _as_text(raw)
    max_length = getattr(field, "max_length", None)
    if max_length and len(text) > max_length:
        raise FeatureError(f"超过 {max_length} 个字符 longer than {max_length} characters: {text[:20]!r}…")
    return text
