#!/usr/bin/env python3
"""Benchmark of the map pages on the `city` fixture (issue 7); run by hand, never in CI.

    flock /tmp/onenet-bench.lock .venv/bin/python bench/pages/run.py \
        --db postgres://postgres@127.0.0.1:54329/onenet_pages_city [--runs 3] [--seconds 6]

Starts the app as `./gis up` does (uvicorn, 2 workers) on the given database and drives Debian's Chromium
with Playwright (WebGL through SwiftShader: software rendering on this machine's 2 CPU cores, so frame
rates are a floor, far below any GPU):
- time to first full render: navigation start → the page's `ready` flag (MapLibre's first `idle` with the
  style, every tile in view, the open-case layer and the panels requested), cold browser cache each run;
  plus the page's own marks (style loaded, open cases loaded);
- frame rate while panning: the map is panned continuously (map.panBy, linear, 1 s legs in a square)
  for N seconds at several zooms, on the big screen also with the case history (all cases, from the
  case tiles) switched on; frames are counted with requestAnimationFrame (what the screen shows)
  and MapLibre `render` events, with the 95th-percentile frame time;
- the server side of the big screen: /api/map/cases.geojson (size, gzipped size, time) and the three
  indicator endpoints, first (cold cache) and again.
Writes var/bench/pages-<time>.json and prints Markdown for docs/BENCHMARKS.md ("Map pages").
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--disable-background-networking", "--disable-component-update", "--no-first-run"]
PAN_JS = """
async ([seconds, zoom, center]) => {
  const map = window.__onenet.map;
  map.jumpTo({ center, zoom });
  await new Promise(r => { map.once('idle', r); map.triggerRepaint(); });
  let frames = 0, renders = 0, last = performance.now();
  const gaps = [];
  const onRender = () => renders++;
  map.on('render', onRender);
  let running = true;
  const raf = (t) => { frames++; gaps.push(t - last); last = t; if (running) requestAnimationFrame(raf); };
  requestAnimationFrame(raf);
  const legs = [[300, 0], [0, 300], [-300, 0], [0, -300]];
  const start = performance.now();
  let i = 0;
  while (performance.now() - start < seconds * 1000) {
    map.panBy(legs[i++ % 4], { duration: 1000, easing: t => t });
    await new Promise(r => map.once('moveend', r));
  }
  running = false;
  map.off('render', onRender);
  const elapsed = (performance.now() - start) / 1000;
  gaps.sort((a, b) => a - b);
  return { fps: frames / elapsed, render_fps: renders / elapsed,
           p95_frame_ms: gaps[Math.floor(gaps.length * 0.95)] || null, seconds: elapsed };
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db, "ONENET_DEMO": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "gisapp.asgi:application", "--host", "127.0.0.1", "--port",
         str(port), "--workers", "2", "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2).read()
            return proc, base
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not start")


def token(base: str) -> str:
    data = b"username=dispatcher&password=onenet-demo"
    with urllib.request.urlopen(urllib.request.Request(base + "/api/auth/token", data=data), timeout=30) as r:
        return json.loads(r.read())["token"]


def timed_get(base: str, path: str, tok: str, gzip_ok: bool = False) -> dict:
    headers = {"Authorization": f"Bearer {tok}"}
    if gzip_ok:
        headers["Accept-Encoding"] = "gzip"
    t0 = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=120) as r:
        body = r.read()
        encoding = r.headers.get("Content-Encoding")
    ms = (time.perf_counter() - t0) * 1000
    raw = gzip.decompress(body) if encoding == "gzip" else body
    return {"ms": round(ms, 1), "bytes": len(raw), "wire_bytes": len(body)}


def server_side(base: str) -> dict:
    tok = token(base)
    out = {}
    fc = timed_get(base, "/api/map/cases.geojson", tok, gzip_ok=True)
    with urllib.request.urlopen(
        urllib.request.Request(base + "/api/map/cases.geojson", headers={"Authorization": f"Bearer {tok}"})
    ) as r:
        fc["features"] = len(json.loads(r.read())["features"])
    out["cases.geojson"] = fc
    for panel in ("people", "events", "operations"):
        first = timed_get(base, f"/api/map/indicators/{panel}", tok)
        again = timed_get(base, f"/api/map/indicators/{panel}", tok)
        out[panel] = {"first_ms": first["ms"], "again_ms": again["ms"]}
    return out


def page_runs(
    browser, base: str, page_name: str, runs: int, seconds: float, zooms: list[float], size=None
) -> dict:
    size = size or {"dispatch": (1920, 1080), "public": (390, 844)}[page_name]
    loads, marks, pans = [], [], {}
    for run in range(runs):
        context = browser.new_context(viewport={"width": size[0], "height": size[1]})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, e=errors: m.type == "error" and e.append(m.text))
        if page_name == "dispatch":
            page.goto(base + "/accounts/login/?next=/dispatch/")
            page.fill("#id_username", "dispatcher")
            page.fill("#id_password", "onenet-demo")
            page.click("button[type=submit]")
            page.wait_for_url("**/dispatch/")
        else:
            page.goto(base + "/")
        page.wait_for_function("document.body.dataset.ready", timeout=180_000)
        # From the page's own navigation start (the login redirect excluded) to `ready`.
        nav = page.evaluate("performance.getEntriesByType('navigation')[0].startTime")
        timings = page.evaluate("window.__onenet.timings")
        loads.append(round(timings["firstIdle"] - nav, 1))
        marks.append(timings)
        if run == 0:
            center = page.evaluate("window.__onenet.map.getCenter().toArray()")
            for z in zooms:
                pans[str(z)] = page.evaluate(PAN_JS, [seconds, z, center])
            if page_name == "dispatch":
                # With the case history on: every case ever reported (150,000) from the case tiles too.
                page.check("#toggle-all-cases")
                for z in zooms[:2]:
                    pans[f"{z}+history"] = page.evaluate(PAN_JS, [seconds, z, center])
        context.close()
        if errors:
            print(f"  console errors on {page_name}: {errors[:3]}", file=sys.stderr)
    return {
        "viewport": f"{size[0]}x{size[1]}",
        "first_full_render_ms": loads,
        "median_ms": statistics.median(loads),
        "marks": marks,
        "pan": pans,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default=os.environ.get("DATABASE_URL"), required=False)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    if not args.db:
        raise SystemExit("--db (or DATABASE_URL) is required")
    from playwright.sync_api import sync_playwright

    proc, base = start_server(args.db)
    try:
        result = {
            "when": dt.datetime.now().isoformat(timespec="seconds"),
            "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
            "db": args.db.rsplit("/", 1)[-1],
            "server": server_side(base),
        }
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            result["chromium"] = browser.version
            result["dispatch"] = page_runs(browser, base, "dispatch", args.runs, args.seconds, [11, 14, 16])
            result["public"] = page_runs(browser, base, "public", args.runs, args.seconds, [12, 15])
            # Baseline: the plain style (the public page) on the big screen's 1920×1080 — what MapLibre and
            # our tiles cost under SwiftShader without the screen's overlays and panels.
            result["baseline-1920"] = page_runs(
                browser, base, "public", 1, args.seconds, [11, 14, 16], size=(1920, 1080)
            )
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    out = ROOT / "var" / "bench" / f"pages-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
