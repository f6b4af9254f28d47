"""SQLAlchemy Core views of the Django models, so tile SQL is built from the same tables and columns.

Django's ORM has no ST_AsMVT and costs about a millisecond of Python per query; tile SQL is therefore built
once per layer, zoom band and access mode with SQLAlchemy Core + GeoAlchemy2, from tables derived here from
the models' own metadata (so a renamed column cannot drift), and only compiled text runs per request.
Registry lookups (`category__code`) become outer joins; registry filters (`Q(kind="arterial")`) become
SQL expressions.  Only the lookups the registry uses are supported: exact, in, isnull, negation, and/or.
"""

from __future__ import annotations

import sqlalchemy as sa
from django.contrib.gis.db import models as gis_models
from django.db import models
from django.db.models import Q
from geoalchemy2 import Geometry

METADATA = sa.MetaData()
_TABLES: dict[str, sa.Table] = {}


def _column_type(field: models.Field) -> sa.types.TypeEngine:
    if isinstance(field, models.GeneratedField):
        field = field.output_field
    if isinstance(field, gis_models.GeometryField):
        return Geometry(srid=field.srid)
    if isinstance(field, models.BooleanField):
        return sa.Boolean()
    if isinstance(field, models.DateTimeField):
        return sa.DateTime(timezone=True)
    if isinstance(field, models.DateField):
        return sa.Date()
    if isinstance(field, models.FloatField):
        return sa.Float()
    if isinstance(field, models.IntegerField | models.AutoField | models.ForeignKey):
        return sa.BigInteger()
    return sa.String()


def table_for(model: type[models.Model]) -> sa.Table:
    """The model's table as a SQLAlchemy Table (concrete columns only, named as in the database)."""
    name = model._meta.db_table
    if name not in _TABLES:
        columns = [
            sa.Column(f.column, _column_type(f), primary_key=f.primary_key)
            for f in model._meta.concrete_fields
        ]
        _TABLES[name] = sa.Table(name, METADATA, *columns)
    return _TABLES[name]


class Joins:
    """Outer joins needed by a set of lookup paths from one base table, each path joined once."""

    def __init__(self, model: type[models.Model], base: sa.FromClause) -> None:
        self.model = model
        self.base = base
        self.from_clause: sa.FromClause = base
        self._aliases: dict[str, tuple[type[models.Model], sa.FromClause]] = {"": (model, base)}

    def column(self, path: str) -> sa.ColumnElement:
        """The SQL column a registry lookup path (`parent__code`) points at, joining what it crosses."""
        parts = path.split("__")
        prefix = ""
        model, table = self._aliases[""]
        for part in parts[:-1]:
            field = model._meta.get_field(part)
            if not field.is_relation or field.many_to_many or field.one_to_many:
                raise ValueError(f"unsupported lookup {path!r} on {self.model.__name__}")
            key = f"{prefix}__{part}" if prefix else part
            if key not in self._aliases:
                target = field.related_model
                alias = table_for(target).alias(f"j_{key.replace('__', '_')}")
                self.from_clause = self.from_clause.outerjoin(
                    alias, alias.c[target._meta.pk.column] == table.c[field.column]
                )
                self._aliases[key] = (target, alias)
            prefix = key
            model, table = self._aliases[key]
        field = model._meta.get_field(parts[-1])
        return table.c[field.column]


def local_column(model: type[models.Model], table: sa.FromClause, name: str) -> sa.ColumnElement:
    return table.c[model._meta.get_field(name).column]


def q_to_sql(q: Q, model: type[models.Model], table: sa.FromClause) -> sa.ColumnElement:
    """A Q on the model's own columns as a SQL boolean expression over `table` (a table or an alias)."""
    parts = []
    for child in q.children:
        if isinstance(child, Q):
            parts.append(q_to_sql(child, model, table))
            continue
        lookup, value = child
        name, _, op = lookup.partition("__")
        col = local_column(model, table, name)
        if op in ("", "exact"):
            parts.append(col.is_(None) if value is None else col == value)
        elif op == "in":
            parts.append(col.in_(list(value)))
        elif op == "isnull":
            parts.append(col.is_(None) if value else col.isnot(None))
        else:
            raise ValueError(f"unsupported lookup {lookup!r} in a tile filter")
    expr = sa.and_(*parts) if q.connector == Q.AND else sa.or_(*parts)
    return sa.not_(expr) if q.negated else expr


def q_columns(q: Q | None, model: type[models.Model]) -> list[str]:
    """Database columns a Q reads (so triggers know when a row may move between bands)."""
    if q is None:
        return []
    out: list[str] = []
    for child in q.children:
        if isinstance(child, Q):
            out += q_columns(child, model)
        else:
            out.append(model._meta.get_field(child[0].split("__")[0]).column)
    return sorted(set(out))
