"""Latency of GET /api/geocode over HTTP: one uvicorn worker on DATABASE_URL, queries sent one by one.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/onenet_city .venv/bin/python \
        bench/geocode/http_latency.py bench/geocode/queries_city.jsonl [--json out.json]

Loopback only; the server is started here and stopped at the end.  One keep-alive connection, requests
one after another: the latency a dispatcher's browser sees, not a load test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("queries")
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.queries, encoding="utf-8")]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "gisapp.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("server did not start") from None
                time.sleep(0.3)
        paths = [f"/api/geocode?q={urllib.parse.quote(r['query'])}" for r in rows]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # keep-alive, as browsers do
        for path in paths[:50]:  # warm-up: gazetteer, connections
            conn.request("GET", path)
            conn.getresponse().read()
        times, statuses = [], {}
        for path in paths:
            t = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            statuses[r.status] = statuses.get(r.status, 0) + 1
            times.append((time.perf_counter() - t) * 1000)
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out = {
        "requests": len(times),
        "statuses": statuses,
        "p50_ms": round(pct(times, 50), 2),
        "p95_ms": round(pct(times, 95), 2),
        "p99_ms": round(pct(times, 99), 2),
        "max_ms": round(max(times), 2),
    }
    print("HTTP /api/geocode latency:", out)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
