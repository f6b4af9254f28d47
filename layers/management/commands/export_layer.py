"""./gis manage export_layer LAYER FILE — write a layer to a GeoPackage, GeoJSON file or shapefile."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.io.errors import LayerIOError
from layers.io.exporter import ExportOptions, run_export
from layers.io.reproject import STORAGE_CRS
from layers.registry import LAYERS


class Command(BaseCommand):
    help = (
        "导出图层 Export a layer (its published properties and feature id) as GeoPackage, GeoJSON or "
        "ESRI Shapefile, reprojected to --crs (default EPSG:4490).  Shapefile column names are shortened "
        "to 10 characters as listed in docs/import-export.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("layer", choices=list(LAYERS), help="图层 layer id")
        parser.add_argument("path", type=Path, help="输出文件 output file (.gpkg, .geojson, .shp)")
        parser.add_argument(
            "--format", help='格式 GPKG | GeoJSON | "ESRI Shapefile" (default: from the extension)'
        )
        parser.add_argument(
            "--crs", default=STORAGE_CRS, help=f"目标坐标系 target CRS (default {STORAGE_CRS})"
        )
        parser.add_argument(
            "--where",
            action="append",
            default=[],
            metavar="PROPERTY=VALUE",
            help="筛选 keep rows whose published property equals VALUE (repeatable, e.g. net=comprehensive)",
        )
        parser.add_argument("--encoding", help="Shapefile 编码 shapefile encoding: UTF-8 (default) or GBK")
        parser.add_argument("--overwrite", action="store_true", help="覆盖已有文件 replace an existing file")
        parser.add_argument("--quiet", action="store_true", help="不显示进度条 no progress bar")

    def _log(self, message: str) -> None:
        self.stderr.write(message, style_func=str)  # stderr is red by default; these are notes

    def handle(self, *args, **opts) -> None:
        options = ExportOptions(
            layer_id=opts["layer"],
            path=opts["path"],
            format=opts["format"],
            crs=opts["crs"],
            where=opts["where"],
            encoding=opts["encoding"],
            overwrite=opts["overwrite"],
            progress=not opts["quiet"] and sys.stderr.isatty(),
        )
        verbose = opts["verbosity"] >= 2
        try:
            report = run_export(options, log=self._log if verbose else lambda _: None)
        except LayerIOError as exc:
            raise CommandError(str(exc)) from None
        renamed = {p: c for p, c in report.columns.items() if p != c}
        if renamed and opts["verbosity"] >= 1:
            pairs = ", ".join(f"{p}→{c}" for p, c in renamed.items())
            self.stdout.write(f"字段改名 renamed columns: {pairs}")
        self.stdout.write(
            self.style.SUCCESS(
                f"已导出 {report.count} 个要素 exported {report.count} features of {report.layer_id} to "
                f"{report.path} "
                f"({report.driver}, {report.crs}"
                + (f", {report.encoding}" if report.driver == "ESRI Shapefile" else "")
                + ")"
            )
        )
