"""Published generations of a partition group: their list, their grids, two of them compared, exported.

A generation is numbered per net, but the nets of a partition group (comprehensive + dedicated) are
published together, so "generation n" of the named net stands for the group as it was when n took
effect: every net's grids in force at that moment (`Grid.objects.current(at=…)`, the one history lookup).
Rows are shared by every generation they were valid in (MapIt-style `generation_low/high`), so two
generations differ exactly by the rows one has and the other has not — no geometry is compared.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.db.models import QuerySet

from gisapp.accounts.jurisdiction import prefix_for_code
from layers.io.exporter import ExportOptions, run_export
from layers.models import AdminUnit, Generation, GenerationStatus, Grid, Net

from .errors import Refusal
from .models import BoundaryChange

EXPORT_FORMATS = {"gpkg": ("GPKG", ".gpkg"), "geojson": ("GeoJSON", ".geojson"), "shp": ("shp", ".shp")}
SHOWN = (GenerationStatus.PUBLISHED, GenerationStatus.SUPERSEDED)


@dataclass(frozen=True)
class Scope:
    """The named net, the nets published with it, and the area looked at (None: the whole net)."""

    net: Net
    nets: list[Net]
    area: AdminUnit | None

    def prefix(self) -> str:
        return prefix_for_code(self.area.code) if self.area else ""


NET_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
AREA_CODE = re.compile(r"^[0-9]{1,15}$")


def check_codes(net_code: object, area_code: object) -> None:
    """A net code is a slug and an area an admin-unit code: anything else is a 400, before any query."""
    if not isinstance(net_code, str) or not NET_CODE.match(net_code):
        raise Refusal(400, "bad_request", "需要 net（网代码）", "net (a net code) is required")
    if area_code and (not isinstance(area_code, str) or not AREA_CODE.match(area_code)):
        raise Refusal(400, "bad_request", "area 应为行政区划编码", "area must be an admin-unit code")


def scope_for(net_code: object, area_code: object) -> Scope:
    check_codes(net_code, area_code)
    net = Net.objects.filter(code=net_code).first()
    if net is None:
        raise Refusal(422, "unknown_net", f"网不存在：{net_code}", f"no such net: {net_code}")
    area = None
    if area_code:
        area = AdminUnit.objects.filter(code=str(area_code)).defer("geom", "geom_3857").first()
        if area is None:
            raise Refusal(
                422, "unknown_area", f"行政区划不存在：{area_code}", f"no such admin unit: {area_code}"
            )
    nets = list(Net.objects.filter(partition_group=net.partition_group).order_by("ordering", "code"))
    return Scope(net, nets, area)


def generation(scope: Scope, number: object) -> Generation:
    try:
        n = int(str(number))
    except ValueError:
        n = -1
    # A number beyond the column's range names no generation (and must not reach the database).
    gen = (
        Generation.objects.filter(net=scope.net, number=n, status__in=SHOWN).first()
        if 0 <= n < 2**31
        else None
    )
    if gen is None or gen.effective_from is None:
        raise Refusal(
            404,
            "unknown_generation",
            f"{scope.net.name}没有已发布的第 {number} 版",
            f"{scope.net.code} has no published generation {number}",
        )
    return gen


def grids_of(scope: Scope, gen: Generation) -> QuerySet:
    """The group's grids as they were in force when `gen` took effect, inside the scope's area."""
    qs = Grid.objects.current(at=gen.effective_from).filter(net__in=scope.nets)
    prefix = scope.prefix()
    return qs.filter(code__startswith=prefix) if prefix else qs


def listing(scope: Scope) -> list[dict]:
    """Newest first: number, status, when, note, and the publish record (who, where, what moved)."""
    changes = {}
    for c in BoundaryChange.objects.filter(partition_group=scope.net.partition_group).select_related(
        "area", "published_by"
    ):
        number = (c.generations.get(scope.net.code) or [None, None])[1]
        changes[number] = c
    in_force = Generation.in_force().get(scope.net.pk)
    out = []
    for g in Generation.objects.filter(net=scope.net, status__in=SHOWN).order_by("-number"):
        c = changes.get(g.number)
        out.append(
            {
                "number": g.number,
                "status": g.status,
                "in_force": g.number == in_force,
                "effective_from": g.effective_from.isoformat() if g.effective_from else None,
                "note": g.note,
                "change": None
                if c is None
                else {
                    "id": c.pk,
                    "draft": c.draft_id,
                    "area": {"code": c.area.code, "name": c.area.name},
                    "published_by": c.published_by.username if c.published_by else None,
                    "published_at": c.published_at.isoformat(),
                    "new": len(c.summary.get("codes", {}).get("new", [])),
                    "changed": len(c.summary.get("codes", {}).get("changed", [])),
                    "retired": len(c.summary.get("codes", {}).get("retired", [])),
                    "moved": c.summary.get("moved", {}),
                },
            }
        )
    return out


def _feature(g: Grid, **extra) -> dict:
    return {
        "type": "Feature",
        "id": g.pk,
        "geometry": json.loads(g.geom.geojson),
        "properties": {"code": g.code, "name": g.name, "net": g.net.code, "kind": g.kind, **extra},
    }


def collection(scope: Scope, gen: Generation) -> dict:
    rows = grids_of(scope, gen).select_related("net").order_by("code")
    return {
        "type": "FeatureCollection",
        "generation": gen.number,
        "features": [_feature(g) for g in rows],
    }


def compare(scope: Scope, a: Generation, b: Generation) -> dict:
    """The grids only `a` has and the grids only `b` has (the rest is shared, row for row), and the codes
    that appeared, disappeared or changed shape between them."""
    rows_a = dict(grids_of(scope, a).values_list("pk", "code"))
    rows_b = dict(grids_of(scope, b).values_list("pk", "code"))
    only_a = set(rows_a) - set(rows_b)
    only_b = set(rows_b) - set(rows_a)
    codes_a = {rows_a[i] for i in only_a}
    codes_b = {rows_b[i] for i in only_b}
    features = []
    for side, ids in (("a", only_a), ("b", only_b)):
        for g in Grid.objects.filter(pk__in=ids).select_related("net").order_by("code"):
            features.append(_feature(g, side=side))
    extent = None
    if features:
        from django.contrib.gis.db.models import Extent

        extent = Grid.objects.filter(pk__in=only_a | only_b).aggregate(e=Extent("geom"))["e"]
    return {
        "type": "FeatureCollection",
        "a": {"number": a.number, "effective_from": a.effective_from.isoformat()},
        "b": {"number": b.number, "effective_from": b.effective_from.isoformat()},
        "summary": {
            "same": len(set(rows_a) & set(rows_b)),
            "only_a": len(only_a),
            "only_b": len(only_b),
            "removed": sorted(codes_a - codes_b),
            "added": sorted(codes_b - codes_a),
            "reshaped": sorted(codes_a & codes_b),
        },
        "bbox": [round(v, 7) for v in extent] if extent else None,
        "features": features,
    }


def export(scope: Scope, gen: Generation, fmt: str) -> tuple[Path, str, Path]:
    """Write the generation's grids with layers.io (the same columns `export_layer grids` writes, so the
    file imports back as a draft); returns (file, download name, directory to remove afterwards)."""
    if fmt not in EXPORT_FORMATS:
        raise Refusal(
            400,
            "bad_format",
            f"不支持的格式 {fmt}，可选 {', '.join(EXPORT_FORMATS)}",
            f"unsupported format {fmt}; choose {', '.join(EXPORT_FORMATS)}",
        )
    driver, suffix = EXPORT_FORMATS[fmt]
    where = scope.area.code if scope.area else "all"
    stem = f"grids-{scope.net.partition_group}-{where}-g{gen.number}"
    workdir = Path(tempfile.mkdtemp(prefix="onenet-export-"))
    try:
        path = workdir / f"{stem}{suffix}"
        run_export(ExportOptions("grids", path, format=driver, rows=grids_of(scope, gen)))
        if fmt != "shp":
            return path, path.name, workdir
        # A shapefile is several files (.shp .shx .dbf .prj .cpg): one download as a zip.
        bundle = workdir / f"{stem}.zip"
        with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as z:
            for part in sorted(workdir.glob(f"{stem}.*")):
                if part != bundle:
                    z.write(part, part.name)
        return bundle, bundle.name, workdir
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
