"""./gis manage import_boundary_draft FILE --net NET --area CODE --user NAME — a redrawn net as a draft."""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from boundaries.drafts import describe
from boundaries.errors import Refusal
from boundaries.importer import import_draft
from boundaries.validation import validate
from layers.io.errors import LayerIOError


class Command(BaseCommand):
    help = (
        "把测量单位交来的网格文件导入为边界草稿 Import a redrawn net (GeoPackage / Shapefile / GeoJSON) as a "
        "boundary draft of an area: nothing is published; the draft is validated and can be previewed "
        "(GET /api/boundaries/drafts/ID/impact) and published like any other."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="输入文件 input file (.gpkg, .shp, .geojson)")
        parser.add_argument("--net", required=True, help="网 net code, e.g. comprehensive")
        parser.add_argument("--area", required=True, help="范围 admin-unit code of the draft's area")
        parser.add_argument("--user", required=True, help="规划员用户名 the planner the draft belongs to")
        parser.add_argument("--encoding", help="Shapefile 属性编码 DBF encoding, overrides the .cpg")
        parser.add_argument("--crs", help="源坐标系 source CRS when the file has none (EPSG:4547)")
        parser.add_argument("--source-layer", help="GeoPackage 中的图层名 layer inside a multi-layer file")
        parser.add_argument("--note", default="", help="说明 note")

    def handle(self, *args, **opts) -> None:
        user = get_user_model().objects.filter(username=opts["user"]).first()
        if user is None:
            raise CommandError(f"用户不存在 no such user: {opts['user']}")
        try:
            draft, report = import_draft(
                user,
                opts["path"],
                opts["net"],
                opts["area"],
                encoding=opts["encoding"],
                crs=opts["crs"],
                source_layer=opts["source_layer"],
                note=opts["note"],
                log=lambda m: self.stderr.write(m, style_func=str),
            )
        except LayerIOError as exc:
            raise CommandError(str(exc)) from None
        except Refusal as exc:
            raise CommandError(f"{exc.zh} {exc.en}") from None
        result = validate(draft)
        self.stdout.write(
            json.dumps(
                {
                    "draft": describe(draft),
                    "validation": {k: result[k] for k in ("ok", "errors", "warnings", "counts")},
                },
                ensure_ascii=False,
                indent=2,
            )
        )
