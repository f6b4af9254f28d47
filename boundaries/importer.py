"""A redrawn net from a Shapefile or GeoPackage (as survey teams deliver them), opened as a draft.

The file is read exactly as `import_layer grids` reads it — the same encoding detection (GBK .cpg),
CRS handling (Gauss-Kruger zones), column matching and per-feature checks, from layers.io — but nothing
is published: the grids replace those of the same nets in a new draft, which then goes through the same
validation, impact preview and publish as hand edits.  A feature whose code names a grid of the area
keeps that grid's code (unchanged if its geometry is); any other code is taken as a new grid and gets
the next free sequence.  Grids of those nets that the file leaves out are retired on publish.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import shapely
from django.db import transaction

from layers.io.encoding import shapefile_encoding
from layers.io.errors import LayerIOError
from layers.io.fields import match_columns
from layers.io.importer import BadFeature, ImportRejected, ImportReport, _Reader, _sample_strings, open_source
from layers.io.locate import Locator
from layers.io.mappings import MAPPINGS, MappingOptions
from layers.io.reproject import STORAGE_CRS, Reprojector, crs_of_source, describe, parse_crs
from layers.registry import get_layer

from .codes import renumber
from .drafts import create_draft, touch
from .geometry import from_db, metric_of, polygons, to_db
from .models import Draft, DraftGrid


def _read(
    path: Path,
    net: str,
    encoding: str | None,
    crs: str | None,
    source_layer: str | None,
    log: Callable[[str], None],
) -> tuple[list, ImportReport]:
    spec = get_layer("grids")
    report = ImportReport(layer_id="grids", path=path, dry_run=True)
    mapping = MAPPINGS["grids"](spec, Locator(), MappingOptions(replace=True, net=net))
    with open_source(path, source_layer, "grids") as src:
        report.driver, report.read = src.driver, len(src)
        enc = None
        if src.driver == "ESRI Shapefile":
            enc = shapefile_encoding(path, encoding, _sample_strings(src))
            report.encoding = f"{enc.codec} ({enc.source})"
        file_crs = crs_of_source(src)
        if crs:
            source_crs = parse_crs(crs)
        elif file_crs is None:
            raise LayerIOError(f"{path.name} 没有坐标系 the file declares no CRS: 请用 --crs 指定 give --crs")
        else:
            source_crs = file_crs
        report.source_crs = describe(source_crs)
        reader = _Reader(mapping, {}, enc, Reprojector(source_crs, parse_crs(STORAGE_CRS)), mapping.locator)
        columns = list(src.schema["properties"])
        if enc is not None:
            decoded = [enc.decode(c) for c in columns]
            reader.raw_names = dict(zip(decoded, columns, strict=True))
            columns = decoded
        matched, report.ignored_columns = match_columns(columns, mapping.aliases())
        missing = [p for p in mapping.required if p not in matched]
        if missing:
            raise LayerIOError(f"文件缺少必填字段 the file lacks required columns: {', '.join(missing)}")
        report.columns = reader.matched = matched
        mapping.prepare(matched)
        log(f"读取 reading {path.name}: {report.read} features, {src.driver}, CRS {report.source_crs}")
        rows = [reader.row(i, f) for i, f in enumerate(src, 1)]
    mapping.check_all(rows)
    for row in rows:
        if row.problems:
            report.bad.append(BadFeature(row.index, row.fid, mapping.label(row.values), row.problems))
    if report.bad:
        raise ImportRejected(report)
    return [row.obj for row in rows if row.obj is not None], report


def import_draft(
    user,
    path: Path,
    net: str,
    area: str,
    *,
    encoding: str | None = None,
    crs: str | None = None,
    source_layer: str | None = None,
    note: str = "",
    log: Callable[[str], None] = lambda _: None,
) -> tuple[Draft, ImportReport]:
    """Read `path` and open a draft of `area` in which the file's grids replace those of their nets."""
    grids, report = _read(Path(path), net, encoding, crs, source_layer, log)
    with transaction.atomic():
        draft = create_draft(user, net, area, note or f"导入 imported from {Path(path).name}")
        metric = metric_of(draft)
        containers = set(draft.containers)
        nets = {g.net_id for g in grids}
        existing = {(g.net_id, g.code): g for g in DraftGrid.objects.filter(draft=draft, net_id__in=nets)}
        seen: set[tuple[int, str]] = set()
        units = {}
        outside = []
        for grid in grids:
            container_id = grid.community_id if grid.net.follows_communities else grid.district_id
            if container_id not in containers:
                outside.append(grid.code)
                continue
            if container_id not in units:
                units[container_id] = from_db(
                    grid.community.geom if grid.community_id else grid.district.geom
                )
            raw = from_db(grid.geom)
            # Digitisation slivers across the community line are cut off; gaps are left for validation.
            shape = polygons(raw.intersection(units[container_id]))
            geom = to_db(shapely.union_all(shape)) if shape else grid.geom
            old = existing.get((grid.net_id, grid.code))
            if old is not None:
                seen.add((grid.net_id, grid.code))
                # A grid that came back through a reprojected file within 0.1 mm is the same grid: it keeps
                # its exact vertices (and its neighbours their seam) and its published row.
                same = shapely.equals_exact(
                    shapely.normalize(from_db(old.geom)), shapely.normalize(raw), 1e-9
                )
                same = same and (old.name, old.kind, old.target_households) == (
                    grid.name or old.name,
                    grid.kind,
                    grid.target_households,
                )
                if not same:
                    old.geom, old.name, old.kind = geom, grid.name or old.name, grid.kind
                    old.target_households, old.changed = grid.target_households, True
                    old.save()
                continue
            DraftGrid.objects.create(
                draft=draft,
                net_id=grid.net_id,
                code=f"new-{len(seen)}-{grid.code}",
                name=grid.name,
                kind=grid.kind,
                container_id=container_id,
                community_id=grid.community_id,
                district_id=grid.district_id,
                target_households=grid.target_households,
                source=None,
                changed=True,
                deleted=False,
                auto_name=not grid.name,
                geom=geom,
            )
        if outside:  # a file of the whole city may be used to redraw one street
            report.warnings.append(
                f"{len(outside)} 个网格不在草稿范围 {area} 内，已忽略 "
                f"grids outside the draft's area were ignored: "
                f"{', '.join(outside[:10])}{' …' if len(outside) > 10 else ''}"
            )
        for key, old in existing.items():
            if key not in seen and not old.deleted:
                old.deleted = True
                old.save(update_fields=["deleted"])
        renumber(draft, containers, metric)
        touch(draft)
    report.written = len(grids)
    return draft, report
