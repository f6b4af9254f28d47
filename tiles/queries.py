"""The tile SQL of every layer, zoom band and access mode, built with SQLAlchemy Core + GeoAlchemy2.

Each statement returns one MVT layer: `ST_AsMVT` over `ST_AsMVTGeom(geom, ST_TileEnvelope(z, x, y))` of
the rows whose 3857 geometry `&&` the envelope (widened by the tile buffer), so the GiST index (a partial
one per generalised band) does the search.  Only the layer's published tile attributes are selected, by
name, never `*`.  Statements are compiled once to text with psycopg placeholders and run as server-side
prepared statements; per request only z, x, y and the jurisdiction (prefix, department) change.

Access modes mirror `LayerSpec.visible_to` and `gisapp.accounts.jurisdiction.scope`:
- "all": every row (public layers; users whose jurisdiction is everything);
- "public": the layer's `public_filter` (anonymous users of e.g. service stations);
- "scope": rows whose grid code starts with the user's prefix, or handled by the user's department;
- "public+scope": both (logged-in users of a layer with a `public_filter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from django.db.models import Q
from geoalchemy2 import functions as gf  # noqa: F401  (registers the ST_* function return types)
from sqlalchemy.dialects import postgresql

from layers.models import Generation, GenerationStatus, Grid

from .plan import BUFFER, CLUSTER_CELLS, EXTENT, GEOM, LayerPlan, plan
from .sqlmodel import Joins, q_to_sql, table_for

MODES = ("all", "public", "scope", "public+scope")
PARAMS = {"z", "x", "y", "prefix", "dept"}
_PG = postgresql.dialect()
_PSYCOPG = postgresql.psycopg.dialect()
ISO_UTC = '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\''


@dataclass(frozen=True)
class TileQuery:
    layer: str
    band: int
    mode: str
    sql: str  # psycopg text with %(z)s, %(x)s, %(y)s, %(prefix)s, %(dept)s


def _literal_sql(expr: sa.ColumnElement) -> sa.TextClause:
    """A registry filter (values from code, not from requests) rendered inline, so the statement has no
    parameters but the tile address and the jurisdiction."""
    return sa.text(str(expr.compile(dialect=_PG, compile_kwargs={"literal_binds": True})))


def _num(v: int | float) -> sa.ColumnElement:
    return sa.literal_column(repr(v))


def _param(name: str, type_: sa.types.TypeEngine) -> sa.ColumnElement:
    return sa.cast(sa.bindparam(name), type_)


def _envelope(margin: bool = False) -> sa.ColumnElement:
    z, x, y = (_param(n, sa.Integer) for n in "zxy")
    if not margin:
        return sa.func.ST_TileEnvelope(z, x, y)
    return sa.func.ST_TileEnvelope(
        z, x, y, sa.func.ST_TileEnvelope(_num(0), _num(0), _num(0)), _num(BUFFER / EXTENT)
    )


def _access(p: LayerPlan, mode: str, grid_col, dept_col, pub_expr) -> sa.ColumnElement | None:
    scope = None
    if mode in ("scope", "public+scope"):
        if grid_col is None:
            raise ValueError(f"{p.id} has no jurisdiction column")
        scope = grid_col.like(_param("prefix", sa.String))
        if dept_col is not None:
            scope = sa.or_(scope, dept_col == _param("dept", sa.BigInteger))
    if mode == "all":
        return None
    if mode == "public":
        return pub_expr
    if mode == "scope":
        return scope
    return sa.or_(pub_expr, scope)


def _in_force() -> sa.Subquery:
    """Per net, the number of the boundary generation in force now: the rule of Generation.in_force."""
    gen = table_for(Generation)
    published = _literal_sql(
        q_to_sql(Q(status__in=[GenerationStatus.PUBLISHED, GenerationStatus.SUPERSEDED]), Generation, gen)
    )
    return (
        sa.select(gen.c.net_id, gen.c.number)
        .where(published, gen.c.effective_from <= sa.func.now())
        .distinct(gen.c.net_id)
        .order_by(gen.c.net_id, gen.c.effective_from.desc(), gen.c.number.desc())
        .subquery("in_force")
    )


def _feature_statement(p: LayerPlan, index: int, mode: str) -> sa.Select:
    band = p.bands[index]
    source = p.table
    joins = Joins(p.model, source)
    columns = []
    for name, path in p.attributes(band).items():
        col = joins.column(path)
        if isinstance(col.type, sa.DateTime):
            col = sa.func.to_char(
                sa.func.timezone(sa.literal_column("'UTC'"), col), sa.literal_column(ISO_UTC)
            )
        columns.append(col.label(name))
    where = []
    if band.generalised:
        gen = sa.table(p.gen_table, sa.column("band"), sa.column("src_id"), sa.column("geom")).alias("g")
        from_clause = gen.join(joins.from_clause, source.c.id == gen.c.src_id)
        geom = gen.c.geom
        where.append(gen.c.band == _num(index))  # a literal, so the band's partial index applies
    else:
        from_clause = joins.from_clause
        geom = source.c[GEOM]
        if band.only is not None:
            where.append(_literal_sql(q_to_sql(band.only, p.model, source)))
    where.append(geom.op("&&")(_envelope(margin=True)))
    if p.spec.tiles.current_generation:  # the rule of Grid.objects.current()
        if p.model is not Grid:
            raise ValueError("current_generation applies to grids only")
        f = _in_force()
        from_clause = from_clause.join(f, f.c.net_id == source.c.net_id)
        where.append(source.c.generation_low <= f.c.number)
        where.append(sa.or_(source.c.generation_high.is_(None), source.c.generation_high >= f.c.number))
    pub = (
        _literal_sql(q_to_sql(p.spec.public_filter, p.model, source))
        if p.spec.public_filter is not None
        else None
    )
    grid_col = source.c[p.grid_column] if p.grid_column else None
    dept_col = source.c[p.department_column] if p.department_column else None
    access = _access(p, mode, grid_col, dept_col, pub)
    if access is not None:
        where.append(access)
    mvt_geom = sa.func.ST_AsMVTGeom(geom, _envelope(), _num(EXTENT), _num(BUFFER), sa.true())
    inner = (
        sa.select(*columns, mvt_geom.label("geom"), source.c.id.label("fid"))
        .select_from(from_clause)
        .where(*where)
        .subquery("t")
    )
    return _as_mvt(p, inner, feature_id=True)


def _cluster_statement(p: LayerPlan, mode: str) -> sa.Select:
    c = sa.table(
        p.cluster_table,
        *(
            sa.column(n)
            for n in ("zoom", "cx", "cy", "grid_code", "department_id", "pub", "n", "n_open", "sx", "sy")
        ),
    ).alias("c")
    z, x, y = (_param(n, sa.Integer) for n in "zxy")
    cells = _num(CLUSTER_CELLS)
    n = sa.func.sum(c.c.n)
    point = sa.func.ST_SetSRID(
        sa.func.ST_MakePoint(sa.func.sum(c.c.sx).op("/")(n), sa.func.sum(c.c.sy).op("/")(n)), _num(3857)
    )
    columns = [n.label("count")]
    if p.spec.tiles.cluster_open is not None:
        columns.append(sa.func.sum(c.c.n_open).label("open"))
    access = _access(
        p, mode, c.c.grid_code, c.c.department_id if p.department_column else None, c.c.pub.is_(True)
    )
    where = [
        c.c.zoom == z,
        c.c.cx >= x * cells,
        c.c.cx < (x + _num(1)) * cells,
        c.c.cy >= y * cells,
        c.c.cy < (y + _num(1)) * cells,
    ]
    if access is not None:
        where.append(access)
    mvt_geom = sa.func.ST_AsMVTGeom(point, _envelope(), _num(EXTENT), _num(BUFFER), sa.true())
    inner = (
        sa.select(*columns, mvt_geom.label("geom"))
        .select_from(c)
        .where(*where)
        .group_by(c.c.cx, c.c.cy)
        .having(n > _num(0))
        .subquery("t")
    )
    return _as_mvt(p, inner, feature_id=False)


def _as_mvt(p: LayerPlan, inner: sa.Subquery, feature_id: bool) -> sa.Select:
    name = sa.literal_column("'" + p.id.replace("'", "''") + "'")
    args = [inner.table_valued(), name, _num(EXTENT), sa.literal_column("'geom'")]
    if feature_id:
        args.append(sa.literal_column("'fid'"))
    return sa.select(sa.func.ST_AsMVT(*args)).select_from(inner).where(inner.c.geom.isnot(None))


@cache
def tile_query(layer: str, band: int, mode: str) -> TileQuery:
    p = plan(layer)
    if p is None or mode not in MODES:
        raise KeyError((layer, mode))
    stmt = _cluster_statement(p, mode) if p.bands[band].cluster else _feature_statement(p, band, mode)
    compiled = stmt.compile(dialect=_PSYCOPG)
    unexpected = set(compiled.params) - PARAMS
    if unexpected:  # every constant must be inline, or prepared statements would see stray parameters
        raise AssertionError(f"{layer}: unexpected SQL parameters {unexpected}")
    return TileQuery(layer, band, mode, str(compiled))
