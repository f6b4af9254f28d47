#!/usr/bin/env python3
"""Benchmark of the grid drawing assistant (issue 13); run by hand, never in CI.

    flock /tmp/onenet-bench.lock .venv/bin/python bench/boundaries/propose.py \
        --db postgres://postgres@127.0.0.1:54329/onenet --area 990102 \
        --svg docs/screenshots/propose-worst-demo.svg
    flock /tmp/onenet-bench.lock .venv/bin/python bench/boundaries/propose.py \
        --db postgres://postgres@127.0.0.1:54329/onenet_city --area 990100 \
        --svg docs/screenshots/propose-worst-city.svg

In one transaction that is rolled back (the database is left as it was): the comprehensive grids are
deleted (unless --keep-grids), so the proposal starts from communities, roads, water, buildings and
dedicated grids only; then `boundaries.propose` draws the area's grids (timed), the draft's own
validation runs, and `boundaries.measure` reports the issue's figures: share of grids within ±20 % of
the target with min / median / max households, gaps / overlaps (validation errors), buildings in no or
several grids, share of grid boundary within 15 m of a road, water or the community line, Polsby–Popper
median and the five worst grids — drawn in an SVG with the roads and buildings around them.
Prints Markdown for docs/BENCHMARKS.md and writes var/bench/propose-<db>-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import ROOT, machine, setup_django  # noqa: E402  (the boundaries benchmark's helpers)


class Rollback(Exception):
    pass


PANEL = 320  # px per worst grid in the SVG


def draw_worst(codes: list[tuple[str, float, int]], draft, metric, path: Path) -> None:
    """The worst grids (code, Polsby–Popper, households), each with the roads and buildings around it."""
    import shapely

    from boundaries.geometry import from_db
    from boundaries.models import DraftGrid
    from layers.models import Building, Road

    parts = []
    for k, (code, pp, households) in enumerate(codes):
        grid = DraftGrid.objects.get(draft=draft, code=code, deleted=False)
        geom = from_db(grid.geom)
        minx, miny, maxx, maxy = geom.buffer(max(geom.bounds[2] - geom.bounds[0], 0.002) * 0.15).bounds
        box = shapely.box(minx, miny, maxx, maxy)
        local = metric.local(box)
        lx, ly, hx, hy = local.bounds
        scale = (PANEL - 20) / max(hx - lx, hy - ly)

        def pts(g, lx=lx, hy=hy, scale=scale, k=k) -> str:
            c = shapely.get_coordinates(metric.local(g))
            return " ".join(
                f"{k * PANEL + 10 + (x - lx) * scale:.1f},{30 + (hy - y) * scale:.1f}" for x, y in c
            )

        for b in Building.objects.filter(point__intersects=grid.geom.envelope.buffer(0.002)).only("geom")[
            :800
        ]:
            for poly in shapely.get_parts(from_db(b.geom).intersection(box)):
                if poly.geom_type == "Polygon":
                    parts.append(f'<polygon points="{pts(poly.exterior)}" fill="#c9c3b8"/>')
        for r in Road.objects.filter(geom__intersects=grid.geom.envelope.buffer(0.002)).only("geom"):
            for line in shapely.get_parts(from_db(r.geom).intersection(box)):
                if line.geom_type == "LineString":
                    parts.append(
                        f'<polyline points="{pts(line)}" fill="none" stroke="#f0a030" stroke-width="3"/>'
                    )
        for poly in shapely.get_parts(geom):
            parts.append(
                f'<polygon points="{pts(poly.exterior)}" fill="#4c9be833" stroke="#1c5fa8" stroke-width="2"/>'
            )
        parts.append(
            f'<text x="{k * PANEL + 10}" y="20" font-size="13" font-family="sans-serif">'
            f"{code} · PP {pp:.2f} · {households} 户</text>"
        )
    width = PANEL * len(codes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{PANEL + 20}" '
        f'viewBox="0 0 {width} {PANEL + 20}"><rect width="100%" height="100%" fill="#f7f4ee"/>'
        + "".join(parts)
        + "</svg>\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="postgres://postgres@127.0.0.1:54329/onenet")
    parser.add_argument("--area", default="990102", help="admin-unit code to propose for (district, city …)")
    parser.add_argument("--target", type=int, default=300)
    parser.add_argument("--village-target", type=int, default=100)
    parser.add_argument("--keep-grids", action="store_true", help="propose over the existing grids")
    parser.add_argument("--svg", type=Path, help="draw the five least compact grids here")
    args = parser.parse_args()
    setup_django(args.db)

    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from boundaries.geometry import metric_of
    from boundaries.measure import measure
    from boundaries.propose import propose
    from boundaries.testing import remove_comprehensive_grids
    from boundaries.validation import validate

    results: dict = {
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "db": args.db.rsplit("/", 1)[-1],
        "area": args.area,
        "target": args.target,
        "village_target": args.village_target,
        "grids_removed": not args.keep_grids,
        "machine": machine(),
    }
    try:
        with transaction.atomic():
            user = User.objects.create_superuser("bench-propose", password=None)
            if not args.keep_grids:
                remove_comprehensive_grids()
            t = time.perf_counter()
            draft, summary = propose(user, args.area, args.target, args.village_target)
            results["propose_s"] = round(time.perf_counter() - t, 2)
            results["summary"] = summary
            t = time.perf_counter()
            v = validate(draft)
            results["validate_s"] = round(time.perf_counter() - t, 2)
            results["validation"] = {k: v[k] for k in ("ok", "errors", "warnings", "counts", "checked")}
            t = time.perf_counter()
            results["measure"] = m = measure(draft)
            results["measure_s"] = round(time.perf_counter() - t, 2)
            if args.svg:
                worst = []
                with connection.cursor() as cur:
                    for w in m["polsby_popper"]["worst"]:
                        cur.execute(
                            "select coalesce(sum(b.households), 0) from layers_building b "
                            "join boundaries_draftgrid d on st_contains(d.geom, b.point) "
                            "where d.draft_id = %s and d.code = %s and not d.deleted",
                            [draft.pk, w["code"]],
                        )
                        worst.append((w["code"], w["value"], int(cur.fetchone()[0])))
                draw_worst(worst, draft, metric_of(draft), args.svg)
                results["svg"] = str(args.svg)
            raise Rollback
    except Rollback:
        pass
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (out / f"propose-{results['db']}-{stamp}.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=2)
    )
    m, s = results["measure"], results["summary"]
    hh, pp = m["households"], m["polsby_popper"]
    print(
        f"| {results['db']} {args.area} | {m['grids']} | {results['propose_s']} s | "
        f"**{m['within_20pct'] * 100:.1f} %** | {hh['min']} / {hh['median']} / {hh['max']} | "
        f"{results['validation']['errors']} | {m['buildings']['in_no_grid']} / "
        f"{m['buildings']['in_several_grids']} | **{m['near_road_share'] * 100:.1f} %** "
        f"({m['inner_near_road_share'] * 100:.1f} %) | {pp['median']} | "
        + ", ".join(f"{w['code']} {w['value']}" for w in pp["worst"])
        + f" | {s['cut_through_blocks_m'] / 1000:.0f} km |"
    )
    print(json.dumps({k: results[k] for k in ("propose_s", "validate_s", "measure_s")}))


if __name__ == "__main__":
    main()
