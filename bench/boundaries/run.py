#!/usr/bin/env python3
"""Benchmark of boundary redrawing on the `city` fixture (issue 6); run by hand, never in CI.

    flock /tmp/onenet-bench.lock .venv/bin/python bench/boundaries/run.py \
        [--db postgres://postgres@127.0.0.1:54329/onenet_city] [--street CODE] [--repeat 3]

Measures, on the Daqing-sized city (≥5,000 community grids):
- draft: opening a draft of the whole city (copying every comprehensive and dedicated grid);
- validate: validating that whole-city draft (target ≤ 5 s);
- street: on a draft of the street with most grids, one split, one merge, one edge reshape and one
  school (create) per community, then the impact preview and the publish (target ≤ 5 s for publish).
Everything runs in one transaction that is rolled back at the end, the boundaries tables included when
the database has not been migrated for them: the city database is left exactly as it was.
Prints Markdown for docs/BENCHMARKS.md and writes var/bench/boundaries-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:54329/onenet_city"


class Rollback(Exception):
    pass


def setup_django(db: str) -> None:
    os.environ["DATABASE_URL"] = db
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gisapp.settings")
    os.environ.setdefault("ONENET_STATEMENT_TIMEOUT_MS", "120000")
    import django

    django.setup()


def ensure_tables() -> str:
    """Create the boundaries tables inside the (rolled back) transaction when the city lacks them."""
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("select to_regclass('boundaries_draft') is not null")
        if cur.fetchone()[0]:
            return "present"
        out = io.StringIO()
        call_command("sqlmigrate", "boundaries", "0001", stdout=out)
        body = "\n".join(
            line
            for line in out.getvalue().splitlines()
            if line.strip().upper() not in ("BEGIN;", "COMMIT;") and not line.startswith("--")
        )
        for statement in body.split(";\n"):
            if statement.strip():
                cur.execute(statement)
    return "created inside the benchmark transaction"


def machine() -> dict:
    from django.db import connection

    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    with connection.cursor() as cur:
        cur.execute("select version(), postgis_lib_version()")
        pg, postgis = cur.fetchone()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "postgres": pg.split(",")[0],
        "postgis": postgis,
        "host": platform.node(),
    }


def street_ops(draft, user) -> dict:
    """Per community of the street: split the grid with most households, merge the two smallest
    neighbours, bend one shared edge, draw a school; returns counts of accepted and refused ops."""

    from boundaries import operations
    from boundaries.errors import Refusal
    from boundaries.models import DraftGrid
    from boundaries.testing import adjacent, bent_edge, cut_line, live_shapes, square_around

    tally = {"accepted": 0, "refused": 0}

    def run(body: dict) -> bool:
        try:
            operations.apply(draft, body, user)
            tally["accepted"] += 1
            return True
        except Refusal:
            tally["refused"] += 1
            return False

    for container in draft.containers:
        s = live_shapes(draft, container)
        comp = set(
            DraftGrid.objects.filter(
                draft=draft, container_id=container, deleted=False, net__code="comprehensive"
            ).values_list("code", flat=True)
        )
        if len(comp) < 3:
            continue
        biggest = max(comp, key=lambda c: s[c].area)
        for k in range(6):
            if run({"op": "split", "grid": biggest, "line": cut_line(s[biggest], math.pi * k / 6)}):
                break
        s = live_shapes(draft, container)
        pairs = [(a, b) for a, b in adjacent(s) if a in comp and b in comp and biggest not in (a, b)]
        if pairs:
            a, b = min(pairs, key=lambda p: s[p[0]].area + s[p[1]].area)
            run({"op": "merge", "grids": [a, b]})
        s = live_shapes(draft, container)
        for a, b in adjacent(s):
            edge = bent_edge(s[a], s[b], 0.1)
            if edge and run({"op": "reshape", "grids": [a, b], "edge": edge}):
                break
        s = live_shapes(draft, container)
        host = max(s, key=lambda c: s[c].area)
        run(
            {
                "op": "create",
                "polygon": square_around(s[host], 0.25),
                "net": "dedicated",
                "kind": "school",
                "name": "基准测试学校专属网格",
            }
        )
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--street", help="street code (default: the street with most grids)")
    parser.add_argument("--repeat", type=int, default=3, help="whole-city validations to time")
    args = parser.parse_args()
    setup_django(args.db)

    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from boundaries.drafts import create_draft
    from boundaries.impact import impact
    from boundaries.publish import publish
    from boundaries.validation import validate
    from layers.models import AdminUnit

    results: dict = {
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "db": args.db.rsplit("/", 1)[-1],
        "machine": machine(),
    }
    try:
        with transaction.atomic():
            results["tables"] = ensure_tables()
            user = User.objects.create_superuser("bench-boundaries", password=None)
            city = (
                AdminUnit.objects.filter(level="city").first()
                or AdminUnit.objects.filter(level="district").first()
            )
            t = time.perf_counter()
            draft = create_draft(user, "comprehensive", city.code)
            results["city_draft_s"] = round(time.perf_counter() - t, 3)
            runs = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                v = validate(draft)
                runs.append(time.perf_counter() - t)
            results["city_validate"] = {
                "grids": v["checked"]["grids"],
                "communities": v["checked"]["units"],
                "errors": v["errors"],
                "warnings": v["warnings"],
                "counts": v["counts"],
                "seconds": [round(x, 3) for x in runs],
                "median_s": round(statistics.median(runs), 3),
            }
            print(
                f"whole-city validation: {v['checked']['grids']} grids, {v['errors']} errors, "
                f"median {statistics.median(runs):.2f} s",
                file=sys.stderr,
            )
            with connection.cursor() as cur:
                cur.execute(
                    """select a.code from layers_adminunit a join layers_adminunit c on c.parent_id = a.id
                       join layers_grid g on g.community_id = c.id and g.generation_high is null
                       where a.level = 'street' group by a.code order by count(*) desc, a.code limit 1"""
                )
                street_code = args.street or cur.fetchone()[0]
            street = AdminUnit.objects.get(code=street_code)
            t = time.perf_counter()
            sdraft = create_draft(user, "comprehensive", street.code)
            opened = time.perf_counter() - t
            t = time.perf_counter()
            tally = street_ops(sdraft, user)
            ops_s = time.perf_counter() - t
            t = time.perf_counter()
            preview = impact(sdraft)
            impact_s = time.perf_counter() - t
            t = time.perf_counter()
            change = publish(sdraft, user, "基准测试 benchmark")
            publish_s = time.perf_counter() - t
            summary = change.summary
            results["street"] = {
                "street": f"{street.code} {street.name}",
                "communities": len(sdraft.containers),
                "grids": preview["codes"]["unchanged"]
                + len(preview["codes"]["changed"])
                + len(preview["codes"]["new"]),
                "draft_s": round(opened, 3),
                "operations": tally,
                "operations_s": round(ops_s, 3),
                "per_operation_ms": round(1000 * ops_s / max(1, sum(tally.values())), 1),
                "impact_s": round(impact_s, 3),
                "publish_s": round(publish_s, 3),
                "codes": {k: len(v) if isinstance(v, list) else v for k, v in summary["codes"].items()},
                "rows": summary["rows"],
                "moved": summary["moved"],
                "workers": len(summary["workers"]),
                "impact": summary["impact"],
                "publish_phases_s": summary["timings"],
            }
            print(
                f"street publish: {publish_s:.2f} s ({summary['moved']}) {summary['timings']}",
                file=sys.stderr,
            )
            raise Rollback
    except Rollback:
        pass
    out_dir = ROOT / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"boundaries-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    m, c, s = results["machine"], results["city_validate"], results["street"]
    n_ops = sum(s["operations"].values())
    rows = [
        ("measurement", "result", "target"),
        ("---", "---", "---"),
        (f"open a whole-city draft ({c['grids']} grids copied)", f"{results['city_draft_s']:.2f} s", "—"),
        (
            f"validate the whole city ({c['grids']} grids, {c['communities']} communities; "
            f"median of {len(c['seconds'])})",
            f"**{c['median_s']:.2f} s** ({c['errors']} errors, {c['warnings']} warnings)",
            "≤ 5 s",
        ),
        (
            f"street draft: {s['street']}, {s['communities']} communities, {s['grids']} grids",
            f"{s['draft_s']:.2f} s",
            "—",
        ),
        (
            f"{n_ops} operations (split, merge, reshape, create per community; "
            f"{s['operations']['accepted']} accepted)",
            f"{s['operations_s']:.2f} s ({s['per_operation_ms']:.0f} ms each)",
            "—",
        ),
        ("impact preview", f"{s['impact_s']:.2f} s", "—"),
        (
            f"**publish** ({s['rows']['closed']} rows closed, {s['rows']['opened']} opened; "
            f"moved {s['moved']})",
            f"**{s['publish_s']:.2f} s**",
            "≤ 5 s",
        ),
    ]
    print()
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(
        f"\nMachine: {m['cpu']}, {m['cores']} cores; {m['postgres']}, PostGIS {m['postgis']}; "
        f"Python {m['python']}.\nRaw results: {path.relative_to(ROOT)}."
    )


if __name__ == "__main__":
    main()
