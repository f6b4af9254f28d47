"""`./gis onboard DIR`: a city's handover folder loaded the way its manifest says, a dry run first.

A dry run *is* the load, in one transaction that is rolled back at the end: each file is read by the
same importer as `import_layer` (layers/io: encoding detection, CRS, column matching, per-feature checks)
and written, so that later layers find the earlier ones (buildings their communities, grids their
communities) and the checks across layers run in SQL on what would be there.  Nothing survives a dry
run — also in a database that already holds a city — and `--apply` is the same run, committed: it loads
exactly what the dry run called loadable, all or nothing.  Each file runs in a savepoint, so a file that
cannot be read at all (no CRS, a required column missing) is reported and the others still load.

Applied onboardings are recorded by the fingerprint of the manifest and every file it names: a second
`--apply` of the same folder changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from django.db import connection, transaction

from layers.io.errors import LayerIOError
from layers.io.importer import ImportOptions, importable_layers, run_import

from .manifest import MANIFEST, Entry, read_manifest
from .models import Onboarding

REPORT_JSON = "onboard-report.json"
REPORT_HTML = "onboard-report.html"
EXAMPLES = 20  # examples kept per check
TOLERANCE_M2 = 1.0  # overlaps and gaps between communities below this are digitising noise


class _DryRun(Exception):
    pass


def fingerprint(folder: Path, entries: list[Entry]) -> str:
    digest = hashlib.sha256((folder / MANIFEST).read_bytes())
    for entry in entries:
        # a shapefile is several files: hash every file of the same stem
        for path in (
            sorted(entry.path.parent.glob(entry.path.stem + ".*"))
            if entry.path.suffix == ".shp"
            else [entry.path]
        ):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _layer_report() -> dict:
    return {"read": 0, "loadable": 0, "repaired": [], "rejected": [], "files": [], "warnings": []}


def _load(entry: Entry, progress: bool, log: Callable[[str], None]) -> tuple[dict, dict]:
    """Load one file in a savepoint; its part of the layer report."""
    info: dict = {"file": entry.path.name, **({"level": entry.level} if entry.level else {})}
    if entry.net:
        info["net"] = entry.net
    out = {"read": 0, "loadable": 0, "rejected": [], "repaired": [], "warnings": []}
    if entry.layer not in importable_layers():
        info["error"] = (
            f"此版本尚不能接入图层 {entry.layer} this version cannot onboard the {entry.layer} layer yet"
        )
        return info, out
    options = ImportOptions(
        layer_id=entry.layer,
        path=entry.path,
        encoding=entry.encoding,
        crs=entry.crs,
        net=entry.net,
        source_layer=entry.source_layer,
        skip_invalid=True,
        repair=True,
        progress=progress,
        fields=entry.fields or None,
    )
    try:
        with transaction.atomic():
            report = run_import(options, log)
    except LayerIOError as exc:
        info["error"] = str(exc)
        return info, out
    info.update(driver=report.driver, crs=report.source_crs, encoding=report.encoding or "UTF-8")
    out["read"] = report.read
    out["loadable"] = report.read - len(report.bad) - report.dropped
    out["repaired"] = [
        {"file": entry.path.name, "row": r.index, "id": r.fid, "how": "; ".join(r.reasons)}
        for r in report.repaired
    ]
    out["rejected"] = [
        {"file": entry.path.name, "row": b.index, "id": b.fid, "reason": "; ".join(b.reasons)}
        for b in report.bad
    ]
    out["warnings"] = list(report.warnings)
    return info, out


# Communities of a street that overlap one another, or leave part of the street uncovered; areas in m²
# on the spheroid (geography), points to draw.
OVERLAPS = """
select s.code, array[a.code, b.code], st_area(o::geography), st_asgeojson(st_pointonsurface(o), 7)
from layers_adminunit a join layers_adminunit b on a.parent_id = b.parent_id and a.id < b.id
join layers_adminunit s on s.id = a.parent_id
cross join lateral st_intersection(a.geom, b.geom) o
where a.level = 'community' and b.level = 'community' and s.code = any(%(streets)s)
  and a.geom && b.geom and st_relate(a.geom, b.geom, '2********')
  and st_area(o::geography) > %(tol)s
order by 3 desc
"""
GAPS = """
select s.code, st_area(p.geom::geography), st_asgeojson(st_pointonsurface(p.geom), 7)
from layers_adminunit s
cross join lateral (
    select st_difference(s.geom, coalesce(
        (select st_union(c.geom) from layers_adminunit c where c.parent_id = s.id and c.level = 'community'),
        'POLYGON EMPTY'::geometry)) as g) d
cross join lateral st_dump(d.g) p
where s.level = 'street' and s.code = any(%(streets)s) and st_area(p.geom::geography) > %(tol)s
order by 2 desc
"""


# Checks the importer already makes row by row, gathered across files: (layer, words of the reason).
FROM_REJECTIONS = {
    "buildings_outside_communities": ("buildings", "not inside any community"),
    "grids_crossing_communities": ("grids", "lies outside its community"),
}


def _from_rejections(layers: dict) -> dict:
    out = {}
    for check, (layer, words) in FROM_REJECTIONS.items():
        rows = [r for r in layers.get(layer, {}).get("rejected", []) if words in r["reason"]]
        out[check] = {"count": len(rows), "examples": rows[:EXAMPLES]}
    return out


def _point(geojson: str) -> list[float]:
    return json.loads(geojson)["coordinates"]


def checks_across_layers(codes: set[str]) -> dict:
    """`checks.<check>.{count, examples}` over the streets this onboarding loaded."""
    params = {"streets": sorted(c for c in codes if len(c) == 9), "tol": TOLERANCE_M2}
    with connection.cursor() as cur:
        cur.execute(OVERLAPS, params)
        overlaps = cur.fetchall()
        cur.execute(GAPS, params)
        gaps = cur.fetchall()
    return {
        "communities_overlap": {
            "count": len(overlaps),
            "examples": [
                {"street": s, "communities": list(c), "area_m2": round(a, 1), "at": _point(p)}
                for s, c, a, p in overlaps[:EXAMPLES]
            ],
        },
        "communities_gap": {
            "count": len(gaps),
            "examples": [
                {"street": s, "area_m2": round(a, 1), "at": _point(p)} for s, a, p in gaps[:EXAMPLES]
            ],
        },
    }


def onboard(
    folder: Path, apply: bool = False, progress: bool = False, log: Callable[[str], None] = lambda _: None
) -> dict:
    """Load the folder as its manifest says (committed only with `apply`); the report, also written to
    DIR/onboard-report.json and .html."""
    from .report import write_html

    folder = Path(folder)
    entries = read_manifest(folder)
    mark = fingerprint(folder, entries)
    previous = Onboarding.objects.filter(fingerprint=mark).first()
    if apply and previous is not None:
        report = {**previous.report, "applied": False, "already_applied": previous.applied_at.isoformat()}
        log(f"已于 {previous.applied_at:%Y-%m-%d %H:%M} 接入，未做修改 already applied, nothing changed")
        return _write(folder, report, write_html)
    report: dict = {"folder": str(folder), "fingerprint": mark, "applied": False, "layers": {}, "checks": {}}
    try:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("select coalesce(array_agg(code), '{}') from layers_adminunit")
                before = set(cur.fetchone()[0])
            for entry in entries:
                layer = report["layers"].setdefault(entry.layer, _layer_report())
                info, part = _load(entry, progress, log)
                layer["files"].append(info)
                layer["read"] += part["read"]
                layer["loadable"] += part["loadable"]
                layer["rejected"] += part["rejected"]
                layer["repaired"] += part["repaired"]
                layer["warnings"] += part["warnings"]
            with connection.cursor() as cur:
                cur.execute("select coalesce(array_agg(code), '{}') from layers_adminunit")
                loaded = set(cur.fetchone()[0]) - before
            report["checks"] = {**checks_across_layers(loaded), **_from_rejections(report["layers"])}
            if not apply:
                raise _DryRun
            report["applied"] = True
            Onboarding.objects.create(fingerprint=mark, folder=str(folder), report=report)
    except _DryRun:
        pass
    return _write(folder, report, write_html)


def _write(folder: Path, report: dict, write_html: Callable[[Path, dict], None]) -> dict:
    (folder / REPORT_JSON).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    write_html(folder / REPORT_HTML, report)
    return report
