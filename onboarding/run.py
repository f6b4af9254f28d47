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
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from tqdm import tqdm

from geocoding import gazetteer
from layers.io.errors import LayerIOError
from layers.io.importer import ImportOptions, importable_layers, run_import
from layers.models import AdminUnit

from . import assign, tables
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


def _load(entry: Entry, ctx: _Context) -> tuple[dict, dict]:
    """Load one file in a savepoint; its part of the layer report."""
    info: dict = {"file": entry.path.name, **({"level": entry.level} if entry.level else {})}
    if entry.net:
        info["net"] = entry.net
    out = {"read": 0, "loadable": 0, "rejected": [], "repaired": [], "warnings": []}
    if entry.layer in tables.TABLE_LAYERS:
        return _load_table(entry, ctx, info, out)
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
        progress=ctx.progress,
        fields=entry.fields or None,
        addresses_later=ctx.addresses_later,
        new_generation=entry.layer == "grids",
    )
    try:
        with transaction.atomic():
            report = run_import(options, ctx.log)
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


def _load_table(entry: Entry, ctx: _Context, info: dict, out: dict) -> tuple[dict, dict]:
    bar = tqdm(
        disable=not ctx.progress, file=sys.stderr, unit="行 rows", desc=f"{entry.layer} {entry.path.name}"
    )
    try:
        with bar, transaction.atomic():
            if entry.layer == "addresses":
                result = tables.load_addresses(entry, ctx.communities(), bar.update)
            elif entry.layer == "house-units":
                result = tables.load_house_units(entry, ctx.communities(), bar.update)
            else:
                result = tables.load_cases(entry, f"onboard:{ctx.fingerprint[:16]}", bar.update)
    except LayerIOError as exc:
        info["error"] = str(exc)
        return info, out
    info.update({k: v for k, v in result.info.items() if k not in ("file", "unplaced")})
    ctx.unplaced += result.info.get("unplaced", [])
    ctx.cases += result.loaded_ids
    out.update(read=result.read, loadable=result.loaded, rejected=result.rejected, repaired=result.repaired)
    return info, out


# Communities of a street that overlap one another, or leave part of the street uncovered; areas in m²
# on the spheroid (geography), points to draw.
OVERLAPS = """
select s.code, array[a.code, b.code], st_area(o::geography), st_asgeojson(st_pointonsurface(o), 7),
       st_asgeojson(st_simplifypreservetopology(o, 2e-6), 7)
from layers_adminunit a join layers_adminunit b on a.parent_id = b.parent_id and a.id < b.id
join layers_adminunit s on s.id = a.parent_id
cross join lateral st_intersection(a.geom, b.geom) o
where a.level = 'community' and b.level = 'community' and s.code = any(%(streets)s)
  and a.geom && b.geom and st_relate(a.geom, b.geom, '2********')
  and st_area(o::geography) > %(tol)s
order by 3 desc
"""
GAPS = """
select s.code, st_area(p.geom::geography), st_asgeojson(st_pointonsurface(p.geom), 7),
       st_asgeojson(st_simplifypreservetopology(p.geom, 2e-6), 7)
from layers_adminunit s
cross join lateral (
    select st_difference(s.geom, coalesce(
        (select st_union(c.geom) from layers_adminunit c where c.parent_id = s.id and c.level = 'community'),
        'POLYGON EMPTY'::geometry)) as g) d
cross join lateral st_dump(d.g) p
where s.level = 'street' and s.code = any(%(streets)s) and st_area(p.geom::geography) > %(tol)s
order by 2 desc
"""


# Checks the importer and the table loaders make row by row, gathered across files: (layer, words).
FROM_REJECTIONS = {
    "buildings_outside_communities": ("buildings", "not inside any community"),
    "grids_crossing_communities": ("grids", "lies outside its community"),
    "addresses_without_building": ("addresses", "matches no building"),
    "house_units_without_building": ("house-units", "matches no building"),
}


def _from_rejections(layers: dict) -> dict:
    out = {}
    for check, (layer, words) in FROM_REJECTIONS.items():
        rows = [r for r in layers.get(layer, {}).get("rejected", []) if words in r["reason"]]
        out[check] = {"count": len(rows), "examples": rows[:EXAMPLES]}
    return out


def _point(geojson: str) -> list[float]:
    return json.loads(geojson)["coordinates"]


def _geo(geojson: str) -> dict:
    return json.loads(geojson)


MAX_OUTLINES = 2000  # units drawn on the report's map


def outlines(codes: set[str]) -> list[dict]:
    """The loaded streets and communities, simplified to ~2 m, for the report's map."""
    wanted = sorted(c for c in codes if len(c) in (9, 12))[:MAX_OUTLINES]
    with connection.cursor() as cur:
        cur.execute(
            "select code, name, level, st_asgeojson(st_simplifypreservetopology(geom, 2e-5), 6) "
            "from layers_adminunit where code = any(%s) order by code",
            [wanted],
        )
        return [{"code": c, "name": n, "level": lv, "shape": _geo(g)} for c, n, lv, g in cur.fetchall()]


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
                {
                    "street": s,
                    "communities": list(c),
                    "area_m2": round(a, 1),
                    "at": _point(p),
                    "shape": _geo(g),
                }
                for s, c, a, p, g in overlaps[:EXAMPLES]
            ],
        },
        "communities_gap": {
            "count": len(gaps),
            "examples": [
                {"street": s, "area_m2": round(a, 1), "at": _point(p), "shape": _geo(g)}
                for s, a, p, g in gaps[:EXAMPLES]
            ],
        },
    }


@dataclass
class _Context:
    """What one run knows as it goes: where it reports progress, what it has loaded so far."""

    fingerprint: str
    progress: bool
    log: Callable[[str], None]
    addresses_later: bool
    before: set[str]
    cases: list[int] = field(default_factory=list)
    unplaced: list[dict] = field(default_factory=list)
    _communities: list[int] | None = None

    def loaded_codes(self) -> set[str]:
        return _admin_codes() - self.before

    def communities(self) -> list[int] | None:
        """Communities this run loaded (table rows join to their buildings only), or None: all."""
        if self._communities is None:
            codes = [c for c in self.loaded_codes() if len(c) == 12]
            self._communities = list(
                AdminUnit.objects.filter(code__in=codes, level="community").values_list("pk", flat=True)
            )
        return self._communities or None


def _admin_codes() -> set[str]:
    with connection.cursor() as cur:
        cur.execute("select coalesce(array_agg(code), '{}') from layers_adminunit")
        return set(cur.fetchone()[0])


def onboard(
    folder: Path,
    apply: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
    user=None,
    steps: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Load the folder as its manifest says (committed only with `apply`); the report, also written to
    DIR/onboard-report.json and .html.  `user` owns the grids the assistant draws (default: the first
    superuser); `steps(what, done, total)` hears of every file loaded (the admin's progress page)."""
    from .report import write_html

    folder = Path(folder)
    manifest = read_manifest(folder)
    entries = manifest.entries
    mark = fingerprint(folder, entries)
    previous = Onboarding.objects.filter(fingerprint=mark).first()
    if apply and previous is not None:
        report = {**previous.report, "applied": False, "already_applied": previous.applied_at.isoformat()}
        log(f"已于 {previous.applied_at:%Y-%m-%d %H:%M} 接入，未做修改 already applied, nothing changed")
        return _write(folder, report, write_html)
    report: dict = {"folder": str(folder), "fingerprint": mark, "applied": False, "layers": {}, "checks": {}}
    try:
        with transaction.atomic():
            ctx = _Context(
                fingerprint=mark,
                progress=progress,
                log=log,
                addresses_later=any(e.layer == "addresses" for e in entries),
                before=_admin_codes(),
            )
            drawn = False
            told = steps or (lambda what, done, total: None)
            for n, entry in enumerate(entries):
                told(f"{entry.layer}: {entry.path.name}", n, len(entries) + 2)
                if entry.layer == "cases" and not drawn:
                    # cases are placed in grids by the geocoder: both must know what was just loaded
                    report["grids_drawn"] = _draw_grids(manifest.draw_grids, ctx, user)
                    assign.to_grids(ctx.communities() or [], [])
                    gazetteer.rebuild()
                    drawn = True
                _add(report, entry, ctx)
            if not drawn:
                report["grids_drawn"] = _draw_grids(manifest.draw_grids, ctx, user)
            told("网格、地名与检查 grids, gazetteer and checks", len(entries) + 1, len(entries) + 2)
            loaded = ctx.loaded_codes()
            report["assigned"] = assign.to_grids(ctx.communities() or [], ctx.cases)
            report["gazetteer"] = gazetteer.rebuild()
            report["checks"] = {
                **checks_across_layers(loaded),
                **_from_rejections(report["layers"]),
                "buildings_without_address": assign.buildings_without_address(
                    ctx.communities() or [], EXAMPLES
                ),
                "cases_not_placed": _not_placed(report["layers"], ctx.unplaced),
            }
            report["counts"] = assign.counts(ctx.communities() or [], ctx.cases)
            report["outlines"] = outlines(loaded)
            if not apply:
                raise _DryRun
            report["applied"] = True
            Onboarding.objects.create(fingerprint=mark, folder=str(folder), report=report)
    except _DryRun:
        pass
    finally:
        # the dry run's names went with its transaction: this process must not keep them
        gazetteer.invalidate()
    return _write(folder, report, write_html)


def _add(report: dict, entry: Entry, ctx: _Context) -> None:
    layer = report["layers"].setdefault(entry.layer, _layer_report())
    info, part = _load(entry, ctx)
    layer["files"].append(info)
    layer["read"] += part["read"]
    layer["loadable"] += part["loadable"]
    layer["rejected"] += part["rejected"]
    layer["repaired"] += part["repaired"]
    layer["warnings"] += part["warnings"]
    if entry.layer == "grids" or entry.layer == "buildings":
        ctx.log(f"{entry.layer} {entry.path.name}: {part['loadable']}/{part['read']}")


def _not_placed(layers: dict, unplaced: list[dict]) -> dict:
    """Cases the geocoder could not place: loaded and left for a dispatcher, or refused (outside)."""
    refused = [r for r in layers.get("cases", {}).get("rejected", []) if "outside the city" in r["reason"]]
    rows = [*unplaced, *refused]
    return {"count": len(rows), "loaded": len(unplaced), "refused": len(refused), "examples": rows[:EXAMPLES]}


def _draw_grids(settings: dict | None, ctx: _Context, user) -> dict | None:
    """The grid drawing assistant over every district this run loaded, published as a generation."""
    if not settings:
        return None
    from django.contrib.auth import get_user_model

    from boundaries.errors import Refusal
    from boundaries.propose import propose
    from boundaries.publish import publish

    user = user or get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if user is None:
        return {"error": "没有管理员账户，无法划分网格 no superuser to draw the grids as"}
    districts = sorted(c for c in ctx.loaded_codes() if len(c) == 6 and not c.endswith("00"))
    out: dict = {"target": settings["target"], "village_target": settings["village_target"], "areas": {}}
    for code in districts:
        bar = tqdm(total=0, disable=not ctx.progress, file=sys.stderr, unit="社区", desc=f"网格 grids {code}")

        def step(done: int, total: int, bar=bar) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            with bar, transaction.atomic():
                draft, summary = propose(
                    user, code, settings["target"], settings["village_target"], "接入 onboarding", step
                )
                change = publish(draft, user, "接入时由网格划分助手划分 drawn by the assistant on onboarding")
        except Refusal as exc:
            out["areas"][code] = {"error": f"{exc.zh} {exc.en}"}
            continue
        out["areas"][code] = {**summary, "generations": change.generations}
    return out


def _write(folder: Path, report: dict, write_html: Callable[[Path, dict], None]) -> dict:
    (folder / REPORT_JSON).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    write_html(folder / REPORT_HTML, report)
    return report
