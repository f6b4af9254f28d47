"""Summarises a load run (bench/load/run.sh): errors, p50/p95/p99 per endpoint, server memory over time.

    .venv/bin/python bench/load/report.py var/bench/load-YYYYmmdd-HHMMSS

Reads locust's `locust_stats.csv`, `locust_failures.csv` and run.sh's `memory.csv`; prints Markdown that
can go into docs/BENCHMARKS.md as it is.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _line(name: str, r: dict) -> str:
    return (
        f"| {name} | {r['Request Count']} | {r['Failure Count']} | {float(r['Requests/s']):.1f} "
        f"| {r['50%']} | {r['95%']} | {r['99%']} | {float(r['Max Response Time']):.0f} |"
    )


def main(folder: str) -> None:
    out = Path(folder)
    stats = [r for r in _rows(out / "locust_stats.csv") if not r["Name"].startswith("setup:")]
    total = next((r for r in stats if r["Name"] == "Aggregated"), None)
    lines = [
        "| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted((r for r in stats if r["Name"] != "Aggregated"), key=lambda r: r["Name"]):
        lines.append(_line(f"{r['Type']} {r['Name']}", r))
    if total:
        lines.append(_line("**all**", total))
    print("\n".join(lines))
    failures = _rows(out / "locust_failures.csv")
    if failures:
        print("\nErrors:\n")
        for f in sorted(failures, key=lambda f: -int(f["Occurrences"]))[:10]:
            print(f"- {f['Occurrences']} × {f['Method']} {f['Name']}: {f['Error'][:160]}")
    memory = _rows(out / "memory.csv")
    if memory:
        mb = [float(m["total_rss_mb"]) for m in memory]
        step = max(1, len(memory) // 10)
        samples = ", ".join(f"{m['seconds']} s: {float(m['total_rss_mb']):.0f}" for m in memory[::step])
        print(f"\nServer RSS (uvicorn processes, MB): start {mb[0]:.0f}, max {max(mb):.0f}, end {mb[-1]:.0f}")
        print(f"Over time: {samples}")


if __name__ == "__main__":
    main(sys.argv[1])
