"""Which built files a page loads: Vite's manifest (frontend/dist/app/manifest.json) → tags.

Vite names its output by content hash (so browsers may keep them for ever and still see every new build);
the manifest maps each entry (`src/dispatch/main.js`) to its file, the chunks it imports and their CSS.
The manifest is read once per process and again whenever its modification time changes (`./gis up`
rebuilds while a dev server may be running).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

APP_DIR = "app"  # dist/app/ in frontend/, /static/app/ once served
_cache: dict[str, tuple[float, dict]] = {}


def manifest_path() -> Path | None:
    """The built manifest: beside the sources in a checkout, or in STATIC_ROOT after collectstatic."""
    for base in (Path(settings.BASE_DIR) / "frontend" / "dist", Path(settings.STATIC_ROOT)):
        path = base / APP_DIR / "manifest.json"
        if path.exists():
            return path
    return None


def manifest() -> dict:
    path = manifest_path()
    if path is None:
        return {}
    mtime = path.stat().st_mtime
    cached = _cache.get(str(path))
    if cached is None or cached[0] != mtime:
        cached = (mtime, json.loads(path.read_text(encoding="utf-8")))
        _cache[str(path)] = cached
    return cached[1]


def _collect(entry: str, m: dict, css: list[str], preload: list[str], seen: set[str]) -> None:
    if entry in seen or entry not in m:
        return
    seen.add(entry)
    chunk = m[entry]
    for name in chunk.get("imports", []):
        _collect(name, m, css, preload, seen)
        if name in m and m[name]["file"] not in preload:
            preload.append(m[name]["file"])
    for c in chunk.get("css", []):
        if c not in css:
            css.append(c)


def entry_files(entry: str) -> list[str]:
    """Every built file one entry loads (its module, the chunks it imports, their CSS), as static paths
    under APP_DIR: what the field page's service worker keeps for offline use."""
    m = manifest()
    if entry not in m:
        return []
    css: list[str] = []
    preload: list[str] = []
    _collect(entry, m, css, preload, set())
    return [f"{APP_DIR}/{f}" for f in [m[entry]["file"], *preload, *css]]


def entry_tags(entry: str) -> SafeString:
    """<link rel=stylesheet>, <link rel=modulepreload> and the module <script> of one entry."""
    m = manifest()
    if entry not in m:
        return format_html(
            '<p class="build-missing" role="alert">前端资源尚未构建：请运行 <code>./gis up</code> '
            "(front-end assets are not built: run <code>./gis up</code>) — {}</p>",
            entry,
        )
    css: list[str] = []
    preload: list[str] = []
    _collect(entry, m, css, preload, set())
    url = lambda f: static(f"{APP_DIR}/{f}")  # noqa: E731
    parts = [
        format_html_join("", '<link rel="stylesheet" href="{}">', ((url(c),) for c in css)),
        format_html_join("", '<link rel="modulepreload" href="{}">', ((url(p),) for p in preload)),
        format_html('<script type="module" src="{}"></script>', url(m[entry]["file"])),
    ]
    return mark_safe("".join(parts))
