"""Write a layer's rows to a GeoPackage, GeoJSON file or shapefile.

An export carries exactly the registry's published properties plus the feature id — the same view the
OGC API gives — so a file handed to a contractor never leaks a column nobody decided to publish, and the
importer can read it back by the same names.  Exports are for planners and admins at the command line,
so they read the model directly, without a jurisdiction filter.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fiona
import numpy as np
import pyproj
import shapely
from django.contrib.gis.db.models.functions import AsWKB
from django.db import connection, models, transaction
from django.utils import timezone
from fiona.crs import CRS as FionaCRS
from tqdm import tqdm

from layers.registry import LAYERS, LayerSpec, get_layer

from .encoding import codec_named
from .errors import FeatureError, LayerIOError
from .fields import FEATURE_ID, model_field, parse_value, shapefile_names
from .formats import Format, dataset_files, resolve_output_format
from .reproject import STORAGE_CRS, Reprojector, describe, parse_crs

CHUNK = 2000
DBF_MAX_WIDTH = 254  # bytes, the DBF limit for a character field
# How .cpg files spell the encodings we write (ArcGIS and QGIS read these).
CPG_NAMES = {"utf-8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030", "big5": "BIG5"}


@dataclass
class ExportOptions:
    layer_id: str
    path: Path
    format: str | None = None
    crs: str = STORAGE_CRS
    where: list[str] = field(default_factory=list)
    encoding: str | None = None
    overwrite: bool = False
    progress: bool = False
    # Rows to write instead of the layer's own (e.g. the grids of a past boundary generation).
    rows: models.QuerySet | None = None


@dataclass
class ExportReport:
    layer_id: str
    path: Path
    driver: str
    crs: str
    columns: dict[str, str]  # property → column name in the file
    count: int = 0
    encoding: str = ""
    truncated: int = 0


@dataclass(frozen=True)
class _Column:
    prop: str
    name: str  # in the file
    lookup: str
    kind: str  # str, int, bool, datetime
    fiona_type: str


def _kind(f: models.Field) -> str:
    if isinstance(f, models.BooleanField):
        return "bool"
    if isinstance(f, (models.IntegerField, models.AutoField)):
        return "int"
    if isinstance(f, models.DateTimeField):
        return "datetime"
    if isinstance(f, models.DateField):
        return "date"
    return "str"


def _bytes_per_char(codec: str) -> int:
    if codec == "utf-8":
        return 3
    return 2 if codec in ("gbk", "gb18030", "big5", "cp949", "euc_kr", "shift_jis") else 1


def columns_for(spec: LayerSpec, fmt: Format, codec: str) -> list[_Column]:
    """The file's columns: `id` and the published properties, named and typed for the format."""
    props = {FEATURE_ID: "pk", **spec.properties}
    names = shapefile_names(props) if fmt.is_shapefile else {p: p for p in props}
    out = []
    for prop, lookup in props.items():
        f = spec.model._meta.pk if lookup == "pk" else model_field(spec.model, lookup)
        kind = _kind(f)
        if kind in ("datetime", "date") and not fmt.datetime_fields:
            fiona_type = "str:25"  # ISO 8601 text: shapefiles have no datetime type
        elif kind in ("datetime", "date", "bool", "int"):
            fiona_type = kind
        elif fmt.is_shapefile:
            width = min(DBF_MAX_WIDTH, (getattr(f, "max_length", None) or 80) * _bytes_per_char(codec))
            fiona_type = f"str:{width}"
        else:
            fiona_type = f"str:{f.max_length}" if getattr(f, "max_length", None) else "str"
        out.append(_Column(prop, names[prop], lookup, kind, fiona_type))
    return out


def _filters(spec: LayerSpec, where: list[str]) -> dict[str, Any]:
    """`--where net=comprehensive` → ORM filters, on published property names only."""
    props = {FEATURE_ID: "pk", **spec.properties}
    out: dict[str, Any] = {}
    for clause in where:
        prop, sep, raw = clause.partition("=")
        prop = prop.strip()
        if not sep or prop not in props:
            raise LayerIOError(
                f"无效的条件 bad --where {clause!r}: 格式为 property=value, 属性 properties: "
                f"{', '.join(props)}"
            )
        lookup = props[prop]
        f = spec.model._meta.pk if lookup == "pk" else model_field(spec.model, lookup)
        try:
            value = parse_value(f, raw)
        except FeatureError as exc:
            raise LayerIOError(f"--where {prop}: {exc}") from None
        out[lookup if value is not None else f"{lookup}__isnull"] = value if value is not None else True
    return out


def _fit(text: str, codec: str, limit: int) -> tuple[str, bool]:
    """Cut `text` at a character boundary so that it encodes to at most `limit` bytes."""
    data = text.encode(codec)
    if len(data) <= limit:
        return text, False
    return data[:limit].decode(codec, errors="ignore"), True


@dataclass
class _Plan:
    """Everything decided before the first row is read."""

    options: ExportOptions
    fmt: Format
    codec: str
    cpg: str
    columns: list[_Column]
    qs: models.QuerySet
    target: pyproj.CRS
    reproject: Reprojector
    existing: list[Path]
    report: ExportReport


def run_export(options: ExportOptions, log: Callable[[str], None] = lambda _: None) -> ExportReport:
    """Export one layer; raises LayerIOError for anything the user can fix."""
    plan = _plan(options)
    try:
        _write(plan, log)
    except OSError as exc:
        raise LayerIOError(f"无法写入 cannot write {options.path}: {exc}") from None
    if plan.report.truncated:
        log(
            f"警告 warning: {plan.report.truncated} 个值超过 DBF 的 {DBF_MAX_WIDTH} 字节上限已截断 values "
            "were cut "
            f"to the DBF limit of {DBF_MAX_WIDTH} bytes (use GPKG to keep them whole)"
        )
    return plan.report


def _plan(options: ExportOptions) -> _Plan:
    spec = get_layer(options.layer_id)
    if spec is None:
        raise LayerIOError(f"没有图层 no layer {options.layer_id!r}; 可选 layers: {', '.join(LAYERS)}")
    fmt = resolve_output_format(options.path, options.format)
    if fmt.is_shapefile:
        codec = codec_named(options.encoding or "UTF-8")
    elif options.encoding and codec_named(options.encoding) != "utf-8":
        raise LayerIOError(
            f"{fmt.label} 总是 UTF-8 is always UTF-8; 只有 Shapefile 可选编码 only shapefiles take --encoding"
        )
    else:
        codec = "utf-8"
    target = parse_crs(options.crs)
    existing = [p for p in dataset_files(options.path, fmt) if p.exists()]
    if existing and not options.overwrite:
        raise LayerIOError(f"文件已存在 {options.path} already exists (--overwrite 覆盖 to replace it)")
    if not options.path.parent.is_dir():
        raise LayerIOError(f"目录不存在 no such directory: {options.path.parent}")
    columns = columns_for(spec, fmt, codec)
    cpg = CPG_NAMES.get(codec, codec.upper())
    return _Plan(
        options=options,
        fmt=fmt,
        codec=codec,
        cpg=cpg,
        columns=columns,
        qs=(spec.all_rows() if options.rows is None else options.rows)
        .filter(**_filters(spec, options.where))
        .order_by("pk"),
        target=target,
        reproject=Reprojector(parse_crs(STORAGE_CRS), target),
        existing=existing,
        report=ExportReport(
            layer_id=spec.id,
            path=options.path,
            driver=fmt.driver,
            crs=describe(target),
            columns={c.prop: c.name for c in columns},
            encoding=cpg if fmt.is_shapefile else "UTF-8",
        ),
    )


def _write(plan: _Plan, log: Callable[[str], None]) -> None:
    """Write into a temporary directory beside the target, then move: a failed export leaves no half file."""
    options, fmt, report = plan.options, plan.fmt, plan.report
    spec = get_layer(report.layer_id)
    epsg = plan.target.to_epsg(min_confidence=90)
    open_kwargs: dict[str, Any] = {
        "driver": fmt.driver,
        "schema": {
            "geometry": spec.geometry_type,
            "properties": {c.name: c.fiona_type for c in plan.columns},
        },
        "crs": FionaCRS.from_epsg(epsg) if epsg else FionaCRS.from_wkt(plan.target.to_wkt()),
    }
    if fmt.is_shapefile:
        open_kwargs["encoding"] = plan.cpg
    else:  # a shapefile is named by its file; there a layer name would make a directory
        open_kwargs["layer"] = report.layer_id.replace("-", "_")
    workdir = Path(tempfile.mkdtemp(prefix=".export-", dir=options.path.parent))
    try:
        tmp = workdir / options.path.name
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SET LOCAL statement_timeout = 0")  # a city's buildings take minutes
            report.count = plan.qs.count()
            log(
                f"导出 exporting {report.count} 个要素 features of {report.layer_id} → {options.path} "
                f"({fmt.label}, {report.crs})"
            )
            lookups = [c.lookup for c in plan.columns]
            values = plan.qs.annotate(_wkb=AsWKB("geom")).values_list(*lookups, "_wkb")
            bar = tqdm(
                total=report.count,
                disable=not options.progress,
                file=sys.stderr,
                unit="要素",
                desc="导出 exporting",
                leave=False,
            )
            with bar, fiona.open(tmp, "w", **open_kwargs) as dst:
                chunk: list[tuple] = []
                for row in values.iterator(chunk_size=CHUNK):
                    chunk.append(row)
                    if len(chunk) == CHUNK:
                        dst.writerecords(_records(chunk, plan))
                        bar.update(len(chunk))
                        chunk = []
                if chunk:
                    dst.writerecords(_records(chunk, plan))
                    bar.update(len(chunk))
        if fmt.is_shapefile:
            tmp.with_suffix(".cpg").write_text(plan.cpg, encoding="ascii")
        for old in plan.existing:
            old.unlink()
        for produced in workdir.iterdir():
            produced.replace(options.path.parent / produced.name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _records(chunk: list[tuple], plan: _Plan) -> list[dict[str, Any]]:
    columns, fmt, codec, report = plan.columns, plan.fmt, plan.codec, plan.report
    wkbs = [row[-1] for row in chunk]
    present = np.array([w is not None for w in wkbs])
    geoms = np.full(len(chunk), None, dtype=object)
    if present.any():
        parsed = shapely.from_wkb([bytes(w) for w in wkbs if w is not None])
        geoms[present] = plan.reproject.many(parsed)
    tz = timezone.get_current_timezone()
    records = []
    for row, geom in zip(chunk, geoms, strict=True):
        props: dict[str, Any] = {}
        for c, value in zip(columns, row, strict=False):
            if value is None:
                props[c.name] = None
            elif c.kind in ("datetime", "date"):
                if isinstance(value, dt.datetime):
                    value = value.astimezone(tz)
                props[c.name] = value if fmt.datetime_fields else value.isoformat()
            elif c.kind == "str":
                text = str(value)
                try:
                    text.encode(codec)
                except UnicodeEncodeError:
                    raise LayerIOError(
                        f"要素 id={row[0]} 的 {c.prop} 含有 {codec} 无法表示的字符 holds characters "
                        f"{codec} cannot "
                        f"encode: {text!r}; 请改用 use --encoding UTF-8 or GB18030"
                    ) from None
                if fmt.is_shapefile:
                    text, cut = _fit(text, codec, int(c.fiona_type.split(":")[1]))
                    report.truncated += cut
                props[c.name] = text
            else:
                props[c.name] = value
        records.append(
            {"geometry": shapely.geometry.mapping(geom) if geom is not None else None, "properties": props}
        )
    return records
