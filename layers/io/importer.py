"""Read a file, validate every feature, then write all of them in one transaction — or none.

Half an import is worse than none: a planner cannot tell which buildings made it in.  So nothing is
written until every feature has been read, decoded, reprojected, placed and checked; each bad feature is
reported with its position, its fid and every reason at once, so one round of fixes is enough.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fiona
import shapely
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import ProtectedError, RestrictedError
from shapely.geometry import MultiLineString, MultiPolygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity
from tqdm import tqdm

from layers.registry import LAYERS, get_layer

from .encoding import RAW, Encoding, shapefile_encoding
from .errors import FeatureError, LayerIOError
from .fields import match_columns, parse_value
from .formats import FORMATS
from .locate import Locator
from .mappings import MAPPINGS, LayerMapping, MappingOptions, Row
from .reproject import STORAGE_CRS, Reprojector, all_finite, crs_of_source, describe, parse_crs

ACCEPTED = {
    "polygon": ("Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString"),
    "point": ("Point",),
}
EXPECTED = {"polygon": "Polygon/MultiPolygon", "line": "LineString/MultiLineString", "point": "Point"}
SAMPLE = 500  # features read to guess an undeclared shapefile encoding
MAX_LISTED = 20  # bad features named in the error message itself (all of them go to the log)


@dataclass
class ImportOptions:
    layer_id: str
    path: Path
    encoding: str | None = None
    crs: str | None = None
    net: str | None = None
    source_layer: str | None = None
    dry_run: bool = False
    replace: bool = False
    skip_invalid: bool = False
    progress: bool = False
    # our property ← their column, where the file's column names are not ones the layer knows
    fields: dict[str, str] | None = None
    # mend what can be mended instead of refusing it: invalid geometry made valid (GEOS MakeValid, the
    # algorithm of PostGIS's ST_MakeValid), an exact duplicate of an earlier feature dropped
    repair: bool = False
    # buildings without road and door number load (an address register is loaded after them)
    addresses_later: bool = False
    # grids: published as a new generation of their net, not added to the one in force
    new_generation: bool = False


@dataclass
class BadFeature:
    index: int
    fid: str
    label: str
    reasons: list[str]

    def __str__(self) -> str:
        label = f", {self.label}" if self.label else ""
        reasons = "; ".join(self.reasons)
        return f"第 {self.index} 个要素 feature {self.index} (fid {self.fid}{label}): {reasons}"


@dataclass
class ImportReport:
    layer_id: str
    path: Path
    driver: str = ""
    source_crs: str = ""
    encoding: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # property → file column
    ignored_columns: list[str] = field(default_factory=list)
    read: int = 0
    written: int = 0  # rows added or (admin units with --replace) updated
    updated: int = 0
    bad: list[BadFeature] = field(default_factory=list)
    repaired: list[BadFeature] = field(default_factory=list)  # `reasons` say how each was mended
    dropped: int = 0  # duplicates left out (with repair)
    deleted: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def valid(self) -> int:
        return self.read - len(self.bad)


class ImportRejected(LayerIOError):
    """Bad features and no --skip-invalid: nothing was written."""

    def __init__(self, report: ImportReport, hint: str = "") -> None:
        self.report = report
        listed = "\n".join(f"  {b}" for b in report.bad[:MAX_LISTED])
        more = len(report.bad) - MAX_LISTED
        tail = f"\n  … 另有 {more} 个 and {more} more" if more > 0 else ""
        super().__init__(
            f"{len(report.bad)} / {report.read} 个要素有问题,未写入任何数据 "
            f"{len(report.bad)} of {report.read} features are bad; nothing was written:\n{listed}{tail}"
            + (f"\n{hint}" if hint else "")
            + "".join(f"\n注意 note: {w}" for w in report.warnings)
            + "\n(--skip-invalid 可只导入合格要素 imports the good ones only)"
        )


def importable_layers() -> list[str]:
    return [layer_id for layer_id in LAYERS if layer_id in MAPPINGS]


# ---------------------------------------------------------------------------------------------------
@contextmanager
def open_source(path: Path, source_layer: str | None, layer_id: str) -> Iterator[Any]:
    """Open the file with fiona, choosing the layer of a multi-layer GeoPackage; shapefiles come raw."""
    if not path.exists():
        raise LayerIOError(f"文件不存在 file not found: {path}")
    if path.suffix.lower() == ".zip":
        raise LayerIOError("请先解压 unzip the archive first (.cpg and .prj must be read beside the .shp)")
    try:
        layers = fiona.listlayers(path)
    except Exception as exc:  # fiona raises several DriverError flavours for unreadable input
        raise LayerIOError(f"无法读取文件 cannot read {path.name}: {exc}") from None
    if source_layer:
        if source_layer not in layers:
            raise LayerIOError(
                f"文件中没有图层 no layer {source_layer!r} in {path.name} (has: {', '.join(layers)})"
            )
        chosen = source_layer
    elif len(layers) == 1:
        chosen = layers[0]
    else:
        wanted = {layer_id, layer_id.replace("-", "_")}
        matches = [name for name in layers if name in wanted]
        if not matches:
            raise LayerIOError(
                f"文件有多个图层,请用 --source-layer 选择 the file has several layers, choose one with "
                f"--source-layer: {', '.join(layers)}"
            )
        chosen = matches[0]
    kwargs: dict[str, Any] = {"layer": chosen}
    if path.suffix.lower() == ".shp":
        kwargs["encoding"] = RAW  # bytes through, decoded by us (see encoding.py)
    try:
        with fiona.open(path, **kwargs) as src:
            if src.driver not in FORMATS:
                raise LayerIOError(
                    f"不支持的格式 unsupported format {src.driver}: 请用 GeoPackage, GeoJSON 或 Shapefile"
                )
            yield src
    except (fiona.errors.DriverError, fiona.errors.FionaValueError) as exc:
        raise LayerIOError(f"无法读取文件 cannot read {path.name}: {exc}") from None


def _sample_strings(src: Any) -> list[str]:
    out = list(src.schema["properties"])
    for i, feature in enumerate(src):
        if i >= SAMPLE:
            break
        out.extend(v for v in feature.properties.values() if isinstance(v, str))
    return out


def read_geometry(
    raw: Any, family: str, reproject: Reprojector, problems: list[str], repairs: list[str] | None = None
) -> BaseGeometry | None:
    """Check a feature's geometry in the file's own CRS, reproject it, promote it to Multi* as stored.
    With `repairs` (a list to say what was done), an invalid geometry is made valid instead of refused."""
    if raw is None:
        problems.append("缺少几何 missing geometry")
        return None
    try:
        geom = shape(raw)
    except Exception as exc:  # shapely raises ValueError / GEOSException / TypeError for broken input
        problems.append(f"几何无法解析 unreadable geometry: {exc}")
        return None
    if geom.is_empty:
        problems.append("几何为空 empty geometry")
        return None
    geom = shapely.force_2d(geom)
    if geom.geom_type == "MultiPoint" and family == "point" and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if geom.geom_type not in ACCEPTED[family]:
        problems.append(f"几何类型错误 wrong geometry type {geom.geom_type}, expected {EXPECTED[family]}")
        return None
    if not geom.is_valid:
        fixed = _made_valid(geom, family) if repairs is not None else None
        if fixed is None:
            problems.append(f"几何无效 invalid geometry: {explain_validity(geom)}")
            return None
        repairs.append(f"MakeValid（ST_MakeValid）修复无效几何 made valid: {explain_validity(geom)}")
        geom = fixed
    geom = reproject(geom)
    if not all_finite(geom):
        problems.append("坐标无法转换到 CGCS2000 coordinates cannot be transformed (wrong CRS?)")
        return None
    if not geom.is_valid:
        problems.append(f"转换坐标后几何无效 invalid after reprojection: {explain_validity(geom)}")
        return None
    if geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    elif geom.geom_type == "LineString":
        geom = MultiLineString([geom])
    return geom


def _made_valid(geom: BaseGeometry, family: str) -> BaseGeometry | None:
    """The parts of the made-valid geometry of the layer's kind (a bow-tie becomes two triangles), or
    None when nothing of that kind is left."""
    kinds = {"polygon": ("Polygon",), "line": ("LineString",), "point": ("Point",)}[family]
    parts = [
        p for p in shapely.get_parts(shapely.make_valid(geom)) if p.geom_type in kinds and not p.is_empty
    ]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if merged.is_valid and merged.geom_type in ACCEPTED[family] else None


def _drop_duplicates(rows: list[Row]) -> None:
    """With repair: a feature whose geometry and values equal an earlier one's is left out."""
    seen: dict[tuple, int] = {}
    for row in rows:
        if row.problems or row.geom is None:
            continue
        key = (
            shapely.to_wkb(shapely.normalize(shapely.set_precision(row.geom, 1e-9))),
            tuple(sorted((k, str(v)) for k, v in row.values.items())),
        )
        if key in seen:
            row.dropped = True
            row.obj = None
            row.repairs.append(
                f"与第 {seen[key]} 个要素完全重复，已略去 dropped: a duplicate of feature {seen[key]}"
            )
        else:
            seen[key] = row.index


class _Reader:
    """Turns fiona features into Rows: decoding, attribute parsing, geometry checks."""

    def __init__(
        self,
        mapping: LayerMapping,
        matched: dict[str, str],
        encoding: Encoding | None,
        reproject: Reprojector,
        locator: Locator,
    ) -> None:
        self.mapping = mapping
        self.fields = mapping.columns()
        self.matched = matched
        self.encoding = encoding
        self.reproject = reproject
        self.locator = locator
        self.raw_names = {}  # decoded column name → the name fiona knows
        self.outside = 0
        self.repair = False

    def row(self, index: int, feature: Any) -> Row:
        row = Row(index=index, fid=str(feature.id))
        props = feature.properties
        for prop, column in self.matched.items():
            raw = props.get(self.raw_names.get(column, column))
            if isinstance(raw, str) and self.encoding is not None:
                try:
                    raw = self.encoding.decode(raw)
                except UnicodeDecodeError:
                    row.problems.append(
                        f"{prop}: 无法按 {self.encoding.codec} 解码 cannot be decoded as "
                        f"{self.encoding.codec} "
                        "(try --encoding)"
                    )
                    continue
            try:
                row.values[prop] = parse_value(self.fields[prop], raw)
            except FeatureError as exc:
                row.problems.append(f"{prop}: {exc}")
        for prop in self.mapping.required:
            if row.values.get(prop) is None and not any(p.startswith(f"{prop}:") for p in row.problems):
                row.problems.append(f"缺少必填属性 missing required attribute '{prop}'")
        row.geom = read_geometry(
            feature.geometry,
            self.mapping.family,
            self.reproject,
            row.problems,
            row.repairs if self.repair else None,
        )
        if row.geom is None:
            return row
        if self.mapping.check_city and self.locator.in_city(row.geom) is False:
            self.outside += 1
            row.problems.append("位于城市范围之外 outside the city (wrong CRS?)")
            return row
        self.mapping.build(row)
        return row


def run_import(options: ImportOptions, log: Callable[[str], None] = lambda _: None) -> ImportReport:
    """Import one file into one layer; raises LayerIOError (ImportRejected for bad features)."""
    spec = get_layer(options.layer_id)
    mapping_cls = MAPPINGS.get(options.layer_id)
    if spec is None or mapping_cls is None:
        raise LayerIOError(
            f"不能导入图层 {options.layer_id!r} cannot import this layer; 可导入 importable: "
            + ", ".join(importable_layers())
        )
    report = ImportReport(layer_id=spec.id, path=options.path, dry_run=options.dry_run)
    locator = Locator()
    mapping = mapping_cls(
        spec,
        locator,
        MappingOptions(
            replace=options.replace,
            net=options.net,
            addresses_later=options.addresses_later,
            repair=options.repair,
            new_generation=options.new_generation,
        ),
    )

    with open_source(options.path, options.source_layer, spec.id) as src:
        report.driver = src.driver
        report.read = len(src)
        encoding = None
        if src.driver == "ESRI Shapefile":
            encoding = shapefile_encoding(options.path, options.encoding, _sample_strings(src))
            report.encoding = f"{encoding.codec} ({encoding.source})"
        elif options.encoding:
            report.warnings.append(
                f"{src.driver} 总是 UTF-8,忽略 --encoding is always UTF-8; --encoding ignored"
            )

        file_crs = crs_of_source(src)
        if options.crs:
            source_crs = parse_crs(options.crs)
            if file_crs is not None and not file_crs.equals(source_crs, ignore_axis_order=True):
                report.warnings.append(
                    f"文件声明的坐标系 {describe(file_crs)} 被 --crs 覆盖 the file's CRS is overridden by "
                    "--crs"
                )
        elif file_crs is None:
            raise LayerIOError(
                f"{options.path.name} 没有坐标系(缺少 .prj 或 CRS)the file declares no CRS: "
                "请用 --crs 指定 give --crs, e.g. --crs EPSG:4490 or EPSG:4547"
            )
        else:
            source_crs = file_crs
        report.source_crs = describe(source_crs)
        reproject = Reprojector(source_crs, parse_crs(STORAGE_CRS))

        reader = _Reader(mapping, {}, encoding, reproject, locator)
        reader.repair = options.repair
        columns = list(src.schema["properties"])
        if encoding is not None:
            try:
                decoded = [encoding.decode(c) for c in columns]
            except UnicodeDecodeError:
                raise LayerIOError(
                    f"字段名无法按 {encoding.codec} 解码 column names cannot be decoded as {encoding.codec}; "
                    "请用 --encoding 指定 give --encoding"
                ) from None
            reader.raw_names = dict(zip(decoded, columns, strict=True))
            columns = decoded
        matched, report.ignored_columns = match_columns(columns, mapping.aliases())
        if options.fields:
            matched, report.ignored_columns = _explicit_columns(options.fields, matched, columns, mapping)
        missing = [p for p in mapping.required if p not in matched]
        if missing:
            raise LayerIOError(
                f"文件缺少必填字段 the file lacks required columns: {', '.join(missing)} "
                f"(文件字段 file columns: {', '.join(columns) or '(none)'})"
            )
        report.columns = matched
        reader.matched = matched
        mapping.prepare(matched)
        log(
            f"读取 reading {options.path.name}: {report.read} 个要素 features, {src.driver}, "
            f"CRS {report.source_crs}" + (f", 编码 encoding {report.encoding}" if report.encoding else "")
        )

        rows: list[Row] = []
        bar = tqdm(
            src,
            total=report.read,
            disable=not options.progress,
            file=sys.stderr,
            unit="要素",
            desc="校验 validating",
            leave=False,
        )
        with bar:
            for index, feature in enumerate(bar, 1):
                rows.append(reader.row(index, feature))

    if options.repair:
        _drop_duplicates(rows)
    mapping.check_all(rows)
    for row in rows:
        if row.problems:
            report.bad.append(BadFeature(row.index, row.fid, mapping.label(row.values), row.problems))
        elif row.repairs:
            report.repaired.append(BadFeature(row.index, row.fid, mapping.label(row.values), row.repairs))
            report.dropped += row.dropped
    report.warnings.extend(mapping.summary_warnings())
    hint = ""
    if reader.outside and reader.outside == report.read:
        hint = (
            f"所有要素都在城市范围之外:坐标系 {report.source_crs} 可能不对 every feature lies outside the "
            "city: "
            "is the CRS right? (--crs)"
        )
    for bad in report.bad:
        log(str(bad))
    if report.bad and not options.skip_invalid:
        raise ImportRejected(report, hint)
    good = [row.obj for row in rows if not row.problems and row.obj is not None]
    if options.dry_run:
        return report
    report.written = _write(mapping, good, options, report)
    return report


def _explicit_columns(
    fields: dict[str, str], matched: dict[str, str], columns: list[str], mapping: LayerMapping
) -> tuple[dict[str, str], list[str]]:
    """Named columns win over the ones guessed from aliases."""
    known = mapping.aliases()
    by_lower = {c.lower(): c for c in columns}
    out = dict(matched)
    for prop, column in fields.items():
        if prop not in known:
            raise LayerIOError(
                f"图层 {mapping.layer_id} 没有字段 {prop!r} the layer has no field {prop!r} "
                f"(可用 known: {', '.join(known)})"
            )
        found = by_lower.get(str(column).lower())
        if found is None:
            raise LayerIOError(
                f"文件中没有列 {column!r} the file has no column {column!r} "
                f"(文件字段 file columns: {', '.join(columns) or '(none)'})"
            )
        out = {p: c for p, c in out.items() if c != found}
        out[prop] = found
    return out, [c for c in columns if c not in out.values()]


def _write(mapping: LayerMapping, objs: list, options: ImportOptions, report: ImportReport) -> int:
    bar = tqdm(
        total=len(objs),
        disable=not options.progress,
        file=sys.stderr,
        unit="要素",
        desc="写入 writing",
        leave=False,
    )
    try:
        with bar, transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SET LOCAL statement_timeout = 0")  # big layers take longer than a request may
            if options.replace:
                report.deleted = mapping.replace(objs)
            written = mapping.write(objs, bar.update)
    except (ProtectedError, RestrictedError) as exc:
        kinds = sorted(
            {type(o).__name__ for o in exc.protected_objects}
            if hasattr(exc, "protected_objects")
            else {type(o).__name__ for o in exc.restricted_objects}
        )
        raise LayerIOError(
            f"无法替换:现有要素仍被 {', '.join(kinds)} 引用 cannot replace: existing rows are referenced by "
            f"{', '.join(kinds)}; nothing was written"
        ) from None
    except IntegrityError as exc:
        raise LayerIOError(f"写入失败,已全部回滚 write failed, nothing was written: {exc}") from None
    except DatabaseError as exc:
        raise LayerIOError(f"数据库错误,已全部回滚 database error, nothing was written: {exc}") from None
    except ValueError as exc:  # Django refusing an inconsistent row: still nothing was written
        raise LayerIOError(f"写入失败,已全部回滚 write failed, nothing was written: {exc}") from None
    report.warnings.extend(w for w in mapping.warnings if w not in report.warnings)
    report.updated = mapping.updated
    return written
