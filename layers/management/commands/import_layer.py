"""./gis manage import_layer LAYER FILE — read a GeoPackage, GeoJSON file or shapefile into a layer."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.io.errors import LayerIOError
from layers.io.importer import ImportOptions, ImportReport, importable_layers, run_import


class Command(BaseCommand):
    help = (
        "导入图层 Import a layer from GeoPackage / GeoJSON / ESRI Shapefile.  Every feature is validated "
        "first; "
        "if any is bad nothing is written (unless --skip-invalid).  The file's CRS (.prj, GeoPackage, "
        "GeoJSON) "
        "is reprojected to CGCS2000 (EPSG:4490); a shapefile's .cpg gives its encoding (GBK is usual).  "
        "Column names are the published property names (see docs/import-export.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("layer", choices=importable_layers(), help="图层 layer id")
        parser.add_argument("path", type=Path, help="输入文件 input file (.gpkg, .geojson, .shp)")
        parser.add_argument(
            "--encoding", help="Shapefile 属性编码 DBF encoding, overrides the .cpg (e.g. GBK)"
        )
        parser.add_argument(
            "--crs", help="源坐标系 source CRS when the file has none or a wrong one (EPSG:4547)"
        )
        parser.add_argument(
            "--net", help="网格导入到哪个网 grids: the net to import into (e.g. comprehensive)"
        )
        parser.add_argument("--source-layer", help="GeoPackage 中的图层名 layer inside a multi-layer file")
        parser.add_argument(
            "--dry-run", action="store_true", help="只校验不写入 validate only, write nothing"
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="替换现有数据 replace the existing rows (grids: the net's current generation; admin units: "
            "update by code; buildings: also deletes their house units and residents)",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="跳过有问题的要素 import the good features, list the bad",
        )
        parser.add_argument("--quiet", action="store_true", help="不显示进度条 no progress bar")

    def _log(self, message: str) -> None:
        self.stderr.write(message, style_func=str)  # stderr is red by default; these are notes

    def handle(self, *args, **opts) -> None:
        options = ImportOptions(
            layer_id=opts["layer"],
            path=opts["path"],
            encoding=opts["encoding"],
            crs=opts["crs"],
            net=opts["net"],
            source_layer=opts["source_layer"],
            dry_run=opts["dry_run"],
            replace=opts["replace"],
            skip_invalid=opts["skip_invalid"],
            progress=not opts["quiet"] and sys.stderr.isatty(),
        )
        verbose = opts["verbosity"] >= 1
        try:
            report = run_import(options, log=self._log if verbose else lambda _: None)
        except LayerIOError as exc:
            raise CommandError(str(exc)) from None
        self._summary(report, opts["verbosity"])

    def _summary(self, report: ImportReport, verbosity: int) -> None:
        if verbosity >= 2:
            mapped = ", ".join(f"{col}→{prop}" for prop, col in report.columns.items())
            self.stdout.write(f"字段 columns: {mapped}")
            if report.ignored_columns:
                self.stdout.write(f"未使用的字段 ignored columns: {', '.join(report.ignored_columns)}")
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"注意 note: {warning}"))
        for name, n in report.deleted.items():
            self.stdout.write(f"替换 --replace: {name}: {n}")
        if report.bad:
            self.stderr.write(
                self.style.WARNING(
                    f"跳过 {len(report.bad)} 个有问题的要素 skipped {len(report.bad)} bad features"
                )
            )
        if report.dry_run:
            self.stdout.write(
                self.style.SUCCESS(
                    f"校验完成,{report.valid} / {report.read} 个要素合格,未写入 "
                    f"dry run: {report.valid} of {report.read} features are valid; nothing was written"
                )
            )
        else:
            added = report.written - report.updated
            updated = f",更新 {report.updated} 个 ({report.updated} updated)" if report.updated else ""
            self.stdout.write(
                self.style.SUCCESS(
                    f"已导入 {added} 个要素到 {report.layer_id} imported {added} new features into "
                    f"{report.layer_id}" + updated
                )
            )
