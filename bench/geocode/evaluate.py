"""Score the geocoder on a labelled query set: accuracy per kind of noise, latency, batch throughput.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/onenet .venv/bin/python bench/geocode/evaluate.py \
        bench/geocode/queries.jsonl [--baselines var/bench/baselines.jsonl] [--latency] [--batch N] \
        [--json var/bench/geocode-demo.json]

Definitions (per kind of noise and overall):
  top1       the first candidate is the labelled building (matched by its standard address, so labels
             survive a reload that renumbers ids)
  grid       the first candidate's grid_code is the labelled building's grid code
  conf_wrong the first candidate names a different building, or a wrong grid code, with confidence ≥ 0.8
             (an answer at road or community level with no building is not "confidently wrong")
  answered   a candidate with confidence ≥ 0.8 exists (how often an operator can accept without looking)
Baselines (cpca, jionlp) only parse administrative levels; where a query contains the district, their
district is compared with the labelled one (`district` column), the same as ours.
Latency: every query alone through geocode_many([q]) in this process (p50/p95/p99, ms), after a warm-up.
Batch: the queries repeated to N rows through geocode_many in chunks of 2,000 (the batch job's path).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("queries")
    ap.add_argument("--baselines", help="jsonl written by bench/geocode/baselines.py")
    ap.add_argument("--latency", action="store_true", help="time every query on its own")
    ap.add_argument("--batch", type=int, default=0, help="rows for the batch throughput run (0: skip)")
    ap.add_argument("--json", help="write the metrics here too")
    ap.add_argument("--show-errors", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gisapp.settings")
    import django

    django.setup()
    from django.db import connection

    from geocoding import gazetteer
    from geocoding.geocoder import geocode_many

    rows = [json.loads(line) for line in open(args.queries, encoding="utf-8")]
    with connection.cursor() as cur:
        cur.execute(
            "select address, id, grid_code, community_id from layers_building where address = any(%s)",
            [[r["address"] for r in rows]],
        )
        by_address = {a: (i, g, c) for a, i, g, c in cur.fetchall()}
        cur.execute("select size, seed from fixtures_loadedcity order by loaded_at desc limit 1")
        city = cur.fetchone()
    missing = sum(1 for r in rows if r["address"] not in by_address)
    t0 = time.perf_counter()
    gazetteer.current()
    warm_ms = (time.perf_counter() - t0) * 1000
    results = geocode_many([r["query"] for r in rows])
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    errors = []
    for r, res in zip(rows, results, strict=True):
        want = by_address.get(r["address"])
        top = res.candidates[0] if res.candidates else None
        for kind in (r["kind"], "ALL"):
            s = stats[kind]
            s["n"] += 1
            if want is None:
                s["stale_label"] += 1
                continue
            bid_ok = top is not None and top["building_id"] == want[0]
            grid_ok = top is not None and top["grid_code"] == want[1]
            s["top1"] += bid_ok
            s["grid"] += grid_ok
            if top is not None and top["confidence"] >= 0.8:
                s["answered"] += 1
                wrong_building = top["building_id"] is not None and not bid_ok
                wrong_grid = top["grid_code"] is not None and not grid_ok
                s["conf_wrong"] += wrong_building or wrong_grid
            if (
                r.get("room")
                and top is not None
                and top.get("room") == r["room"]
                and top.get("unit") == r["unit"]
            ):
                s["room"] += 1
            if r.get("room"):
                s["with_room"] += 1
        if want is not None and (top is None or top["building_id"] != want[0]):
            errors.append((r, top))
    report = {
        "queries": args.queries,
        "n": len(rows),
        "stale_labels": missing,
        "city": city,
        "gazetteer_load_ms": round(warm_ms, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "kinds": {},
    }
    print(
        f"{args.queries}: {len(rows)} queries on city {city}, gazetteer load {warm_ms:.0f} ms, "
        f"stale labels {missing}"
    )
    header = f"{'kind':16} {'n':>5} {'top1':>7} {'grid':>7} {'conf≥.8 wrong':>13} {'answered':>9} {'room':>7}"
    print(header)
    order = sorted(k for k in stats if k != "ALL") + ["ALL"]
    for k in order:
        s = stats[k]
        n = s["n"] - s["stale_label"]
        m = {
            "n": n,
            "top1": s["top1"] / n,
            "grid": s["grid"] / n,
            "conf_wrong": s["conf_wrong"] / n,
            "answered": s["answered"] / n,
            "room": s["room"] / s["with_room"] if s["with_room"] else None,
        }
        report["kinds"][k] = m
        room = f"{m['room']:.1%}" if m["room"] is not None else "-"
        print(
            f"{k:16} {n:5d} {m['top1']:7.1%} {m['grid']:7.1%} {m['conf_wrong']:13.2%} "
            f"{m['answered']:9.1%} {room:>7}"
        )
    for r, top in errors[: args.show_errors]:
        got = f"{top['address']} ({top['level']}, {top['confidence']})" if top else "-"
        print(f"  [{r['kind']}] {r['query']}\n      want {r['address']}\n      got  {got}")
    if args.baselines:
        base = {}
        for line in open(args.baselines, encoding="utf-8"):
            d = json.loads(line)
            base[d["id"]] = d
        report["baselines"] = baseline_report(rows, results, base)
    if args.latency:
        for q in rows[:50]:
            geocode_many([q["query"]])
        times = []
        for r in rows:
            t = time.perf_counter()
            geocode_many([r["query"]])
            times.append((time.perf_counter() - t) * 1000)
        report["latency_ms"] = {
            "p50": round(pct(times, 50), 2),
            "p95": round(pct(times, 95), 2),
            "p99": round(pct(times, 99), 2),
            "mean": round(statistics.mean(times), 2),
        }
        print("latency per query (ms):", report["latency_ms"])
    if args.batch:
        qs = [rows[i % len(rows)]["query"] for i in range(args.batch)]
        t = time.perf_counter()
        for k in range(0, len(qs), 2000):
            geocode_many(qs[k : k + 2000])
        dt = time.perf_counter() - t
        report["batch"] = {"rows": len(qs), "seconds": round(dt, 2), "rows_per_s": round(len(qs) / dt)}
        print("batch:", report["batch"])
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


def baseline_report(rows, results, base) -> dict:
    """District accuracy of cpca / jionlp next to ours, on the queries that name a district at all."""
    out = {}
    tallies: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r, res in zip(rows, results, strict=True):
        b = base.get(r["id"])
        if b is None or not b.get("has_district"):
            continue
        want = b["want_district"]
        top = res.candidates[0] if res.candidates else None
        ours = (top or {}).get("admin", {}).get("district", {}).get("name")
        for name, got in (("ours", ours), ("cpca", b.get("cpca")), ("jionlp", b.get("jionlp"))):
            for kind in (r["kind"], "ALL"):
                t = tallies[(name, kind)]
                t["n"] += 1
                t["ok"] += got == want
                t["street_ok"] += name != "cpca" and (
                    (top or {}).get("admin", {}).get("street", {}).get("name")
                    if name == "ours"
                    else b.get("jionlp_town")
                ) == b.get("want_street")
    print("\ndistrict accuracy on queries that contain a district name (baselines parse admin levels only)")
    print(f"{'kind':16} {'n':>5} {'ours':>7} {'cpca':>7} {'jionlp':>7}   street: {'ours':>7} {'jionlp':>7}")
    kinds = sorted({k for _, k in tallies if k != "ALL"}) + ["ALL"]
    for kind in kinds:
        n = tallies[("ours", kind)]["n"]
        if not n:
            continue
        acc = {name: tallies[(name, kind)]["ok"] / n for name in ("ours", "cpca", "jionlp")}
        st = {name: tallies[(name, kind)]["street_ok"] / n for name in ("ours", "jionlp")}
        out[kind] = {"n": n, "district": acc, "street": st}
        print(
            f"{kind:16} {n:5d} {acc['ours']:7.1%} {acc['cpca']:7.1%} {acc['jionlp']:7.1%}           "
            f"{st['ours']:7.1%} {st['jionlp']:7.1%}"
        )
    return out


if __name__ == "__main__":
    main()
