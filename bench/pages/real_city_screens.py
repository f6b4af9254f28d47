#!/usr/bin/env python3
"""Screenshots of the big screen and the planner on the real city (docs/screenshots/real-*.png).

    ./gis load-city --size real --replace        # or into its own database, as below
    DATABASE_URL=postgres://postgres@127.0.0.1:54329/onenet_real \
        .venv/bin/python bench/pages/real_city_screens.py

Starts the server (uvicorn, one worker) on the database, logs in as the demo dispatcher and planner in
Debian's Chromium (Playwright, no browser download), waits until each map is idle and saves the page.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "onenet-demo"
IDLE = "() => new Promise(r => { const m = window.__onenet.map; m.once('idle', r); m.triggerRepaint(); })"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    port = _port()
    env = {**os.environ, "ONENET_DEMO": "1"}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/uvicorn"), "gisapp.asgi:application", "--port", str(port), "--no-access-log"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-first-run"])
            for user, path, name, size in (
                ("dispatcher", "/dispatch/", "real-dispatch-1920x1080.png", (1920, 1080)),
                ("planner", "/planner/", "real-planner.png", (1600, 1000)),
            ):
                context = browser.new_context(viewport={"width": size[0], "height": size[1]})
                page = context.new_page()
                page.goto(f"{base}/accounts/login/?next={path}")
                page.fill("#id_username", user)
                page.fill("#id_password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_function("() => window.__onenet && window.__onenet.map", timeout=30_000)
                page.evaluate(IDLE)
                time.sleep(1.0)
                page.evaluate(IDLE)
                page.screenshot(path=str(SHOTS / name))
                print("wrote", SHOTS / name)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
