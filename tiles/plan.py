"""What the tile server and its triggers need to know about each layer, derived from the registry.

A `LayerPlan` resolves a registry entry against the Django model once: its table, its 3857 column, the
columns the jurisdiction rules read (`jurisdiction_field`, `department_field`), and the derived tables its
generalised and clustered zoom bands are kept in.  schema.py turns plans into tables and triggers,
queries.py into tile SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from django.db import models

from layers.registry import LAYERS, LayerSpec, TileBand

from .sqlmodel import Joins, q_columns, table_for

GEOM = "geom_3857"
EXTENT = 4096  # MVT units per tile side
BUFFER = 64  # MVT units drawn beyond each tile edge, so strokes join seamlessly across tiles
CLUSTER_CELLS = 16  # cluster cells per tile side
ORIGIN = 20037508.342789244  # half the Web Mercator world width (ST_TileEnvelope's default bounds)
WORLD = 2 * ORIGIN
MAX_ZOOM = 22


def pixel_size(z: int) -> float:
    """Web Mercator metres per pixel of a 256-px tile at zoom z."""
    return WORLD / (256 * 2**z)


@dataclass(frozen=True)
class LayerPlan:
    spec: LayerSpec
    model: type[models.Model]
    table: sa.Table
    grid_column: str | None  # the local column jurisdiction prefixes are matched against
    department_column: str | None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def slug(self) -> str:
        return self.spec.id.replace("-", "_")

    @property
    def source_table(self) -> str:
        return self.table.name

    @property
    def bands(self) -> tuple[TileBand, ...]:
        return self.spec.tile_bands()

    @property
    def gen_table(self) -> str | None:
        return f"tiles_gen_{self.slug}" if any(b.generalised and not b.cluster for b in self.bands) else None

    @property
    def cluster_table(self) -> str | None:
        return f"tiles_cluster_{self.slug}" if any(b.cluster for b in self.bands) else None

    @property
    def cluster_zooms(self) -> list[int]:
        return sorted({z for b in self.bands if b.cluster for z in range(b.minzoom, b.maxzoom + 1)})

    @property
    def is_polygon(self) -> bool:
        return "Polygon" in self.spec.geometry_type

    def band_index(self, z: int) -> int | None:
        for i, band in enumerate(self.bands):
            if band.minzoom <= z <= band.maxzoom:
                return i
        return None

    def attributes(self, band: TileBand) -> dict[str, str]:
        attrs = self.spec.tile_attributes()
        if band.attributes is not None:
            attrs = {name: attrs[name] for name in band.attributes}
        return attrs

    def dependencies(self) -> set[str]:
        """Tables other than its own whose rows change this layer's tiles (joined attributes, generations)."""
        joins = Joins(self.model, self.table)
        for path in self.spec.tile_attributes().values():
            joins.column(path)
        tables = {t.name for t in _walk_tables(joins.from_clause)}
        if self.spec.tiles.current_generation:
            tables.add("layers_generation")
        tables.discard(self.source_table)
        return tables

    def band_filter_columns(self) -> list[str]:
        cols: set[str] = set()
        for band in self.bands:
            cols.update(q_columns(band.only, self.model))
        return sorted(cols)


def _walk_tables(from_clause: sa.FromClause):
    if isinstance(from_clause, sa.Join):
        yield from _walk_tables(from_clause.left)
        yield from _walk_tables(from_clause.right)
    elif isinstance(from_clause, sa.Alias):
        yield from_clause.element
    else:
        yield from_clause


def _plan(spec: LayerSpec) -> LayerPlan:
    model = spec.model
    table = table_for(model)

    def local(name: str | None) -> str | None:
        if not name:
            return None
        if "__" in name:
            raise ValueError(f"{spec.id}: tiles need a local jurisdiction column, not {name!r}")
        return model._meta.get_field(name).column

    plan = LayerPlan(
        spec=spec,
        model=model,
        table=table,
        grid_column=local(getattr(model, "jurisdiction_field", None)),
        department_column=local(getattr(model, "department_field", None)),
    )
    bands = plan.bands
    for a, b in zip(bands, bands[1:], strict=False):
        if b.minzoom != a.maxzoom + 1:
            raise ValueError(f"{spec.id}: tile bands must follow one another ({a} then {b})")
    if bands[0].minzoom != spec.minzoom or bands[-1].maxzoom != spec.maxzoom:
        raise ValueError(f"{spec.id}: tile bands must cover zooms {spec.minzoom}..{spec.maxzoom}")
    if any(b.cluster for b in bands) and spec.geometry_type != "Point":
        raise ValueError(f"{spec.id}: only point layers can be clustered")
    if not spec.public and plan.grid_column is None:
        raise ValueError(f"{spec.id}: an internal layer needs a jurisdiction_field to be tiled")
    return plan


@cache
def plans() -> dict[str, LayerPlan]:
    """Every registered layer's plan, in registry order."""
    return {layer_id: _plan(spec) for layer_id, spec in LAYERS.items()}


def plan(layer_id: str) -> LayerPlan | None:
    return plans().get(layer_id)
