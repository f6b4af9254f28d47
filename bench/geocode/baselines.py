"""Run the off-the-shelf Chinese address parsers cpca and jionlp on the evaluation set (baselines).

They are not dependencies of the app: they run in their own virtual environment (bench/geocode/run
creates var/bench-geocode-venv with `pip install cpca jionlp`), read queries.jsonl and write one line
per query:

    var/bench-geocode-venv/bin/python bench/geocode/baselines.py \
        bench/geocode/queries.jsonl var/bench/baselines.jsonl

Both parse administrative levels from a national list of real place names (cpca: province / city /
district; jionlp: down to town and village), so they are scored where that applies: the district (and,
for jionlp, the street) named in a query, compared with the labelled building's.  Neither can name a
building or a grid code — that is the point of building the gazetteer from the city's own database.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    import cpca
    import jionlp

    rows = [json.loads(line) for line in open(src, encoding="utf-8")]
    queries = [r["query"] for r in rows]
    t = time.perf_counter()
    frame = cpca.transform(queries)
    cpca_s = time.perf_counter() - t
    districts = list(frame["区"])
    t = time.perf_counter()
    parsed = [jionlp.parse_location(q, town_village=True) for q in queries]
    jio_s = time.perf_counter() - t
    with open(dst, "w", encoding="utf-8") as f:
        for r, d, p in zip(rows, districts, parsed, strict=True):
            # the label's district / street names: the first two levels of the standard address
            addr = r["address"]
            want_district = addr[: addr.index("区") + 1] if "区" in addr[:6] else None
            rest = addr[len(want_district or "") :]
            want_street = None
            for suffix in ("街道", "镇", "乡"):
                k = rest.find(suffix)
                if 0 < k < 8:
                    want_street = rest[: k + len(suffix)]
                    break
            has_district = bool(want_district) and (
                want_district in r["query"] or want_district[:-1] in r["query"]
            )
            f.write(
                json.dumps(
                    {
                        "id": r["id"],
                        "kind": r["kind"],
                        "has_district": has_district,
                        "want_district": want_district,
                        "want_street": want_street,
                        "cpca": d if isinstance(d, str) else None,
                        "jionlp": p.get("county"),
                        "jionlp_town": p.get("town"),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    print(
        json.dumps(
            {
                "queries": len(rows),
                "cpca_ms_per_query": round(cpca_s * 1000 / len(rows), 3),
                "jionlp_ms_per_query": round(jio_s * 1000 / len(rows), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
