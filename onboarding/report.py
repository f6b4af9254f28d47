"""DIR/onboard-report.html: the onboarding report as a page a grid-centre clerk can read, offline.

Plain HTML with its own styles and an inline SVG of where the problems found across layers lie (no
script, no network): it is opened from the folder, on a machine of a closed network.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

LAYER_NAMES = {
    "admin-units": "行政区划 admin units",
    "roads": "道路 roads",
    "water": "水系 water",
    "green": "绿地 green",
    "buildings": "楼栋 buildings",
    "addresses": "标准地址 addresses",
    "house-units": "户室 house units",
    "service-stations": "服务站点 service stations",
    "party-organisations": "党组织 party organisations",
    "grids": "网格 grids",
    "video-points": "视频点位 video points",
    "cases": "案件 cases",
}
CHECK_NAMES = {
    "communities_overlap": "同一街道内社区相互重叠 communities overlapping inside their street",
    "communities_gap": "街道内未被社区覆盖的空隙 parts of a street covered by no community",
    "buildings_outside_communities": "不在任何社区内的楼栋 buildings outside every community",
    "grids_crossing_communities": "跨越社区界线的网格 grids crossing community lines",
    "addresses_without_building": "对不上楼栋的标准地址 addresses that match no building",
    "buildings_without_address": "没有标准地址的楼栋 buildings without an address",
    "house_units_without_building": "对不上楼栋的户室 house units without a building",
    "cases_not_placed": "无法定位的案件 cases that could not be placed",
}
FILL = {"communities_overlap": "#e03131", "communities_gap": "#f59f00"}
MAX_ROWS = 500
STYLE = """body{font:14px/1.5 sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f1f3f5}.bad{color:#c92a2a}
.ok{color:#2b8a3e}h2{margin-top:28px}svg{border:1px solid #ccc;background:#f8f9fa}"""


def _rings(shape: dict) -> list[list[list[float]]]:
    if shape.get("type") == "Polygon":
        return shape["coordinates"]
    if shape.get("type") == "MultiPolygon":
        return [ring for poly in shape["coordinates"] for ring in poly]
    if shape.get("type") == "GeometryCollection":
        return [r for g in shape.get("geometries", []) for r in _rings(g)]
    return []


def _map(report: dict) -> str:
    """An SVG of the loaded streets and communities, the overlaps and gaps drawn as shapes and every
    other located problem as a numbered point."""
    points = [
        (check, i + 1, ex["at"])
        for check, c in report.get("checks", {}).items()
        for i, ex in enumerate(c.get("examples", []))
        if ex.get("at")
    ]
    shapes = [
        (check, ex["shape"])
        for check, c in report.get("checks", {}).items()
        for ex in c.get("examples", [])
        if ex.get("shape")
    ]
    units = report.get("outlines", [])
    coords = [p[2] for p in points] + [pt for u in units for ring in _rings(u["shape"]) for pt in ring]
    if not points and not shapes:
        return "<p class=ok>没有需要在地图上标出的问题 nothing to mark on the map</p>"
    xs, ys = [c[0] for c in coords], [c[1] for c in coords]
    pad = max(max(xs) - min(xs), max(ys) - min(ys), 0.002) * 0.05
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    size = 800
    k = size / max(x1 - x0, y1 - y0)

    def path(shape: dict) -> str:
        return " ".join(
            "M" + " L".join(f"{(x - x0) * k:.1f},{(y1 - y) * k:.1f}" for x, y, *_ in ring) + " Z"
            for ring in _rings(shape)
        )

    line = {"street": ("#495057", 1.5)}
    drawn = [
        f'<path d="{path(u["shape"])}" fill="none" stroke="{line.get(u["level"], ("#adb5bd", 0.7))[0]}" '
        f'stroke-width="{line.get(u["level"], ("#adb5bd", 0.7))[1]}"><title>{escape(u["code"])} '
        f"{escape(u['name'])}</title></path>"
        for u in units
    ]
    drawn += [
        f'<path d="{path(shape)}" fill="{FILL.get(check, "#e03131")}" fill-opacity=".6" '
        f'stroke="{FILL.get(check, "#e03131")}" stroke-width="2"/>'
        for check, shape in shapes
    ]
    drawn += [
        f'<circle cx="{(x - x0) * k:.1f}" cy="{(y1 - y) * k:.1f}" r="5" fill="#e03131" fill-opacity=".7"/>'
        f'<text x="{(x - x0) * k + 7:.1f}" y="{(y1 - y) * k + 4:.1f}" font-size="11">'
        f"{escape(check)} #{n}</text>"
        for check, n, (x, y) in points
    ]
    return (
        f'<svg width="{size}" height="{size}" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="problems">{"".join(drawn)}</svg>'
        "<p>灰线：街道与社区界线；红色：社区重叠；橙色：空隙。"
        "grey: street and community lines; red: overlaps; orange: gaps. "
        f"经度 lon {x0:.4f}–{x1:.4f}，纬度 lat {y0:.4f}–{y1:.4f}</p>"
    )


def write_html(path: Path, report: dict) -> None:
    mode = "已接入 applied" if report.get("applied") else "试运行，未写入任何数据 dry run, nothing written"
    if report.get("already_applied"):
        mode = f"此目录已于 {report['already_applied']} 接入，本次未做修改 applied before; nothing changed"
    out = [
        "<!doctype html><meta charset=utf-8><title>城市数据接入报告 onboarding report</title>",
        f"<style>{STYLE}</style><h1>城市数据接入报告 Onboarding report</h1>",
        f"<p>{escape(report.get('folder', ''))} · <b>{escape(mode)}</b></p>",
        "<h2>图层 Layers</h2><table><tr><th>图层 layer</th><th>读取 read</th><th>可接入 loadable</th>"
        "<th>已修复 repaired</th><th>拒绝 rejected</th><th>文件 files</th></tr>",
    ]
    for layer, r in report.get("layers", {}).items():
        files = "<br>".join(
            escape(
                f"{f['file']}: {f.get('driver', '')} {f.get('crs', '')} {f.get('encoding', '')}"
                + (f" — {f['error']}" if f.get("error") else "")
            )
            for f in r["files"]
        )
        cls = "bad" if r["rejected"] or any(f.get("error") for f in r["files"]) else "ok"
        out.append(
            f"<tr class={cls}><td>{escape(LAYER_NAMES.get(layer, layer))}</td><td>{r['read']}</td>"
            f"<td>{r['loadable']}</td><td>{len(r['repaired'])}</td><td>{len(r['rejected'])}</td><td>{files}</td></tr>"
        )
    out.append("</table>")
    for layer, r in report.get("layers", {}).items():
        for key, what, why in (
            ("rejected", "拒绝的要素 rejected features", "reason"),
            ("repaired", "已修复或略去的要素 features mended or left out", "how"),
        ):
            if not r[key]:
                continue
            out.append(f"<h3>{escape(LAYER_NAMES.get(layer, layer))}：{what}</h3>")
            out.append("<table><tr><th>文件 file</th><th>行 row</th><th>要素 id</th><th>说明 why</th></tr>")
            for x in r[key][:MAX_ROWS]:
                out.append(
                    f"<tr><td>{escape(x['file'])}</td><td>{x['row']}</td><td>{escape(str(x['id']))}</td>"
                    f"<td>{escape(x[why])}</td></tr>"
                )
            out.append("</table>")
            if len(r[key]) > MAX_ROWS:
                out.append(f"<p>… 另有 {len(r[key]) - MAX_ROWS} 个 and more (see the JSON report)</p>")
    out.append(
        "<h2>跨图层检查 Checks across layers</h2><table><tr><th>检查 check</th><th>数量 count</th></tr>"
    )
    for check, c in report.get("checks", {}).items():
        out.append(f"<tr><td>{escape(CHECK_NAMES.get(check, check))}</td><td>{c['count']}</td></tr>")
    out.append("</table>")
    for check, c in report.get("checks", {}).items():
        for i, ex in enumerate(c.get("examples", []), 1):
            detail = ", ".join(f"{k}={v}" for k, v in ex.items() if k not in ("at", "shape"))
            where = f" @ {ex['at']}" if ex.get("at") else ""
            out.append(f"<p>{escape(check)} #{i}: {escape(detail)}{escape(where)}</p>")
    out.append("<h2>问题位置 Where the problems are</h2>" + _map(report))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
