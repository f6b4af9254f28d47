"""Derived tile tables and the triggers that keep them, and every tile cache, in step with the sources.

For each layer of the registry:
- a generalised table `tiles_gen_<layer>` (band, src_id, geom) with one partially indexed copy per
  generalised zoom band (simplified, tiny features dropped, `only` rows);
- a cluster table `tiles_cluster_<layer>` for point layers: per zoom and cell (1/16 of a tile) and per
  jurisdiction key (grid code, department, public flag) the count, the open count and the coordinate sums,
  so a z8–z12 tile is a GROUP BY over a few hundred rows that still honours every user's jurisdiction;
- statement-level AFTER triggers with transition tables on the source table, which update both tables
  set-wise (a COPY of 150,000 cases is one statement, not 150,000 trigger calls) and NOTIFY the channel
  `onenet_tiles` with the bounding boxes (old and new geometry) of what changed;
- tables a layer's attributes are joined from (nets, categories, admin units, generations) NOTIFY too,
  and the tile servers then drop that layer's cached tiles entirely.

Everything here is generated from the registry and (re)installed by `sync()` after each `migrate`
whenever the generated SQL changes, so a new layer or band needs no hand-written migration.
"""

from __future__ import annotations

import hashlib
import logging

import sqlalchemy as sa
from django.db import connections
from sqlalchemy.dialects import postgresql

from .plan import CLUSTER_CELLS, GEOM, ORIGIN, WORLD, LayerPlan, pixel_size, plans
from .sqlmodel import q_to_sql

log = logging.getLogger(__name__)
CHANNEL = "onenet_tiles"
MAX_BOXES = 50  # per notification; more changed rows are sent as one bounding box
_DIALECT = postgresql.dialect()


def _sql(expr: sa.ColumnElement) -> str:
    return str(expr.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))


def _pred(plan: LayerPlan, q, alias: str = "r") -> str:
    return _sql(q_to_sql(q, plan.model, plan.table.alias(alias))) if q is not None else "true"


# ----------------------------------------------------------------------------------------------- tables


def _tables_sql(plan: LayerPlan) -> list[str]:
    out = []
    if plan.gen_table:
        t = plan.gen_table
        out.append(
            f"CREATE TABLE {t} (band smallint NOT NULL, src_id bigint NOT NULL, "
            f"geom geometry(Geometry, 3857) NOT NULL, PRIMARY KEY (band, src_id))"
        )
        for i, band in enumerate(plan.bands):
            if band.generalised and not band.cluster:
                out.append(f"CREATE INDEX {t}_b{i}_gist ON {t} USING gist (geom) WHERE band = {i}")
    if plan.cluster_table:
        t = plan.cluster_table
        out.append(
            f"CREATE TABLE {t} (zoom smallint NOT NULL, cx integer NOT NULL, cy integer NOT NULL, "
            f"grid_code varchar(24), department_id bigint, pub boolean, n integer NOT NULL, "
            f"n_open integer NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL, "
            f"CONSTRAINT {t}_key UNIQUE NULLS NOT DISTINCT (zoom, cx, cy, grid_code, department_id, pub))"
        )
        out.append(f"CREATE INDEX {t}_empty ON {t} (zoom) WHERE n <= 0")
    return out


def _gen_insert(plan: LayerPlan, source: str) -> list[str]:
    """INSERT the generalised copies of the rows of `source` (the table itself or a transition table)."""
    out = []
    for i, band in enumerate(plan.bands):
        if not band.generalised or band.cluster:
            continue
        px = pixel_size(band.maxzoom)
        geom = (
            f"ST_SimplifyPreserveTopology(r.{GEOM}, {band.simplify * px!r})" if band.simplify else f"r.{GEOM}"
        )
        area = (
            f" AND ST_Area(s.g) >= {band.min_area * px * px!r}" if band.min_area and plan.is_polygon else ""
        )
        out.append(
            f"INSERT INTO {plan.gen_table} (band, src_id, geom) SELECT {i}, s.id, s.g FROM "
            f"(SELECT r.id, {geom} AS g FROM {source} AS r "
            f"WHERE r.{GEOM} IS NOT NULL AND {_pred(plan, band.only)}) s "
            f"WHERE NOT ST_IsEmpty(s.g){area}"
        )
    return out


def _cluster_delta(plan: LayerPlan, parts: list[tuple[str, int]]) -> str:
    """Add (+1) or subtract (-1) the rows of each source to the cluster table, one upsert per statement."""
    zooms = plan.cluster_zooms
    grid = f"r.{plan.grid_column}" if plan.grid_column else "NULL::varchar"
    dept = f"r.{plan.department_column}" if plan.department_column else "NULL::bigint"
    pub = (
        f"({_pred(plan, plan.spec.public_filter)})"
        if plan.spec.public_filter is not None
        else "NULL::boolean"
    )
    is_open = f"({_pred(plan, plan.spec.tiles.cluster_open)})::int" if plan.spec.tiles.cluster_open else "1"
    rows = " UNION ALL ".join(
        f"SELECT r.{GEOM} AS g, {grid} AS grid_code, {dept} AS department_id, {pub} AS pub, "
        f"{is_open} AS o, {sign} AS s FROM {source} AS r WHERE r.{GEOM} IS NOT NULL"
        for source, sign in parts
    )
    cell = f"({WORLD!r} / ({CLUSTER_CELLS} * 2 ^ z.zoom))"
    t = plan.cluster_table
    return (
        f"INSERT INTO {t} AS c (zoom, cx, cy, grid_code, department_id, pub, n, n_open, sx, sy) "
        f"SELECT z.zoom, floor((ST_X(d.g) + {ORIGIN!r}) / {cell})::int, "
        f"floor(({ORIGIN!r} - ST_Y(d.g)) / {cell})::int, "
        f"d.grid_code, d.department_id, d.pub, sum(d.s), sum(d.s * d.o), "
        f"sum(d.s * ST_X(d.g)), sum(d.s * ST_Y(d.g)) "
        f"FROM ({rows}) d CROSS JOIN unnest(ARRAY{zooms!r}::smallint[]) AS z(zoom) "
        f"GROUP BY 1, 2, 3, 4, 5, 6 "
        # One lock order for every writer: concurrent inserts of cases then queue instead of deadlocking.
        f"ORDER BY 1, 2, 3, 4, 5, 6 "
        f"ON CONFLICT ON CONSTRAINT {t}_key DO UPDATE SET n = c.n + EXCLUDED.n, "
        f"n_open = c.n_open + EXCLUDED.n_open, "
        f"sx = c.sx + EXCLUDED.sx, sy = c.sy + EXCLUDED.sy; "
        f"DELETE FROM {t} AS e WHERE e.n <= 0"
    )


# --------------------------------------------------------------------------------------------- triggers


def _notify_boxes(sources: list[str]) -> str:
    """plpgsql that NOTIFYs the boxes of the changed rows (per row up to MAX_BOXES, else one extent)."""
    geoms = " UNION ALL ".join(f"SELECT {GEOM} AS g FROM {s}" for s in sources)
    box = "jsonb_build_array(ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g))"
    return f"""
  SELECT count(*) INTO changed_rows FROM ({geoms}) q WHERE g IS NOT NULL;
  IF changed_rows = 0 THEN
    RETURN NULL;
  ELSIF changed_rows <= {MAX_BOXES} THEN
    SELECT jsonb_agg(DISTINCT {box}) INTO changed_boxes FROM ({geoms}) q WHERE g IS NOT NULL;
  ELSE
    SELECT jsonb_build_array({box}) INTO changed_boxes
      FROM (SELECT ST_Extent(g)::geometry AS g FROM ({geoms}) q) e;
  END IF;
  PERFORM pg_notify('{CHANNEL}', jsonb_build_object('t', TG_TABLE_NAME, 'b', changed_boxes)::text);"""


def _function(name: str, body: str, declare: str = "") -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
        f"DECLARE changed_rows bigint; changed_boxes jsonb; {declare}\n"
        f"BEGIN\n{body}\n  RETURN NULL;\nEND\n$fn$"
    )


def _source_triggers(table: str, layer_plans: list[LayerPlan]) -> list[str]:
    ins, upd, dele, trunc = [], [], [], []
    for p in layer_plans:
        if p.gen_table:
            ins += _gen_insert(p, "new_rows")
            # Re-derive only rows whose geometry or band filter columns changed.
            cols = [GEOM, *p.band_filter_columns()]
            changed = " OR ".join(f"o.{c} IS DISTINCT FROM nw.{c}" for c in cols)
            upd.append(
                f"CREATE TEMP TABLE IF NOT EXISTS tiles_moved (id bigint) ON COMMIT DROP; "
                f"TRUNCATE tiles_moved; "
                f"INSERT INTO tiles_moved SELECT nw.id FROM new_rows nw JOIN old_rows o ON o.id = nw.id "
                f"WHERE {changed} "
                f"UNION SELECT o.id FROM old_rows o "
                f"WHERE NOT EXISTS (SELECT 1 FROM new_rows nw WHERE nw.id = o.id)"
            )
            upd.append(f"DELETE FROM {p.gen_table} WHERE src_id IN (SELECT id FROM tiles_moved)")
            upd += _gen_insert(p, "(SELECT * FROM new_rows WHERE id IN (SELECT id FROM tiles_moved))")
            dele.append(f"DELETE FROM {p.gen_table} WHERE src_id IN (SELECT id FROM old_rows)")
            trunc.append(f"TRUNCATE {p.gen_table}")
        if p.cluster_table:
            ins.append(_cluster_delta(p, [("new_rows", 1)]))
            upd.append(_cluster_delta(p, [("old_rows", -1), ("new_rows", 1)]))
            dele.append(_cluster_delta(p, [("old_rows", -1)]))
            trunc.append(f"TRUNCATE {p.cluster_table}")

    def body(stmts: list[str], sources: list[str]) -> str:
        return "".join(f"  {s};\n" for s in stmts) + _notify_boxes(sources)

    out = [
        _function(f"tiles_trg_{table}_ins", body(ins, ["new_rows"])),
        _function(f"tiles_trg_{table}_upd", body(upd, ["old_rows", "new_rows"])),
        _function(f"tiles_trg_{table}_del", body(dele, ["old_rows"])),
        _function(
            f"tiles_trg_{table}_trunc",
            "".join(f"  {s};\n" for s in trunc)
            + f"  PERFORM pg_notify('{CHANNEL}', jsonb_build_object('t', TG_TABLE_NAME, 'all', true)::text);",
        ),
        f"CREATE TRIGGER tiles_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION tiles_trg_{table}_ins()",
        f"CREATE TRIGGER tiles_upd AFTER UPDATE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION tiles_trg_{table}_upd()",
        f"CREATE TRIGGER tiles_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION tiles_trg_{table}_del()",
        f"CREATE TRIGGER tiles_trunc AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION tiles_trg_{table}_trunc()",
    ]
    return out


def _dependency_triggers(table: str) -> list[str]:
    return [
        _function(
            f"tiles_trg_{table}_dep",
            f"  PERFORM pg_notify('{CHANNEL}', jsonb_build_object('t', TG_TABLE_NAME, 'all', true)::text);",
        ),
        f"CREATE TRIGGER tiles_dep AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION tiles_trg_{table}_dep()",
    ]


def install_sql() -> list[str]:
    """Every statement that creates the derived tables and triggers, in order (deterministic)."""
    by_table: dict[str, list[LayerPlan]] = {}
    dependencies: set[str] = set()
    stmts: list[str] = []
    for p in plans().values():
        by_table.setdefault(p.source_table, []).append(p)
        dependencies |= p.dependencies()
        stmts += _tables_sql(p)
    for table, layer_plans in by_table.items():
        stmts += _source_triggers(table, layer_plans)
    for table in sorted(dependencies - set(by_table)):
        stmts += _dependency_triggers(table)
    return stmts


def fill_sql() -> list[str]:
    """Statements that derive every generalised and cluster row from the source tables as they are."""
    stmts: list[str] = []
    for p in plans().values():
        if p.gen_table:
            stmts += _gen_insert(p, p.source_table)
        if p.cluster_table:
            stmts.append(_cluster_delta(p, [(p.source_table, 1)]))
    return stmts


def _drop_sql(cur) -> list[str]:
    cur.execute(
        "SELECT format('DROP FUNCTION %s() CASCADE', p.oid::regproc) FROM pg_proc p "
        "JOIN pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = current_schema() "
        "AND p.proname LIKE 'tiles\\_trg\\_%'"
    )
    stmts = [r[0] for r in cur.fetchall()]
    cur.execute(
        "SELECT format('DROP TABLE %I', tablename) FROM pg_tables WHERE schemaname = current_schema() "
        "AND (tablename LIKE 'tiles\\_gen\\_%' OR tablename LIKE 'tiles\\_cluster\\_%')"
    )
    return stmts + [r[0] for r in cur.fetchall()]


def schema_hash() -> str:
    return hashlib.sha256("\n;\n".join(install_sql() + fill_sql()).encode()).hexdigest()


def sync(using: str = "default", force: bool = False) -> bool:
    """(Re)install the derived tables and triggers if the registry changed them; True if it did."""
    want = schema_hash()
    conn = connections[using]
    with conn.cursor() as cur:
        cur.execute("SELECT value FROM tiles_state WHERE key = 'schema'")
        row = cur.fetchone()
        if row and row[0] == want and not force:
            return False
    from django.db import transaction

    with transaction.atomic(using=using), conn.cursor() as cur:
        cur.execute("SET LOCAL statement_timeout = 0")
        for stmt in _drop_sql(cur) + install_sql() + fill_sql():
            cur.execute(stmt)
        for p in plans().values():
            for t in (p.gen_table, p.cluster_table):
                if t:
                    cur.execute(f"ANALYZE {t}")
        cur.execute(
            "INSERT INTO tiles_state (key, value) VALUES ('schema', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [want],
        )
        cur.execute(f'SELECT pg_notify(\'{CHANNEL}\', \'{{"t": "*", "all": true}}\')')
    log.info("tiles: derived tables and triggers installed")
    return True


def sync_after_migrate(sender, using: str = "default", **kwargs) -> None:
    sync(using)
