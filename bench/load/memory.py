"""Samples the resident memory (RSS) of a server process and its children (uvicorn workers) over time.

    .venv/bin/python bench/load/memory.py --pid PID --interval 5 --out var/bench/…/memory.csv

Writes one row per sample: seconds since start, total RSS in MB, then each process's RSS; stops when the
process is gone or on SIGTERM.
"""

from __future__ import annotations

import argparse
import csv
import signal
import sys
import time

import psutil


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    root = psutil.Process(args.pid)
    started = time.monotonic()
    with open(args.out, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["seconds", "total_rss_mb", "processes"])
        while True:
            try:
                procs = [root, *root.children(recursive=True)]
                rss = {p.pid: p.memory_info().rss / 2**20 for p in procs if p.is_running()}
            except psutil.NoSuchProcess:
                return
            detail = " ".join(f"{pid}:{mb:.0f}" for pid, mb in sorted(rss.items()))
            out.writerow([round(time.monotonic() - started), round(sum(rss.values()), 1), detail])
            f.flush()
            time.sleep(args.interval)


if __name__ == "__main__":
    main()
