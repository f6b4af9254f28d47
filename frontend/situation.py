"""A standalone situation map (态势图) of a grid or a case: one HTML file, readable on a closed network.

Reports are shared as files between offices that may not reach this server, so the file must carry
everything: folium builds the page, but with `tiles=None` (no online basemap) and without its CDN links —
Leaflet's JS and CSS (from npm, copied to frontend/dist/vendor/leaflet by `npm run build`) are inlined,
its two control images as data URIs.  The basemap is drawn from our own roads, water, green and buildings
around the place, as vector GeoJSON.  The file holds only what its reader's jurisdiction allows and no
personal data: no residents, no reporter contact.

folium's JS/CSS lists are class attributes shared by every map in the process (and `add_js_link` mutates
them), so `OfflineMap` assigns new empty lists rather than editing folium.Map's.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path

import folium
from django.contrib.staticfiles import finders
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import escape
from ninja import Router

from cases.models.case import FINAL_STATES
from cases.serialize import case_light
from cases.services import visible_cases
from gisapp.accounts.jurisdiction import covers
from gisapp.apikit import LOGIN, responses
from gisapp.views import error_json
from layers.models import Grid

from .api import CODE

router = Router(tags=["pages"], auth=LOGIN)  # mounted at /api/map/export/
HTML = {
    200: {"description": "a standalone HTML map", "content": {"text/html": {"schema": {"type": "string"}}}}
}

LIGHT_COLOURS = {"green": "#2f9e44", "yellow": "#f59f00", "red": "#e03131", None: "#868e96"}
SOURCE_MAP = re.compile(r"//# sourceMappingURL=\S+")


class OfflineMap(folium.Map):
    """folium.Map without CDN links: its JS/CSS are inlined by `_inline_leaflet`."""

    default_js: list = []
    default_css: list = []


def _vendor(name: str) -> Path:
    """A Leaflet file from the built front end (staticfiles finders), or from STATIC_ROOT after
    collectstatic where frontend/dist is not deployed."""
    from django.conf import settings

    found = finders.find(f"vendor/leaflet/{name}")
    if not found:
        collected = Path(settings.STATIC_ROOT) / "vendor" / "leaflet" / name
        found = str(collected) if collected.exists() else None
    if not found:
        raise FileNotFoundError(
            f"vendor/leaflet/{name} is missing: build the front end (./gis up, or npm run build in frontend/)"
        )
    return Path(found)


def _inline_leaflet(m: folium.Map) -> None:
    css = _vendor("leaflet.css").read_text(encoding="utf-8")
    for image in ("layers.png", "layers-2x.png", "marker-icon.png"):
        data = base64.b64encode(_vendor(f"images/{image}").read_bytes()).decode()
        css = css.replace(f"url(images/{image})", f"url(data:image/png;base64,{data})")
    js = SOURCE_MAP.sub("", _vendor("leaflet.js").read_text(encoding="utf-8"))
    head = m.get_root().header
    head.add_child(folium.Element(f"<style>{css}</style>"), name="leaflet_css")
    head.add_child(folium.Element(f"<script>{js}</script>"), name="leaflet_js")
    head.add_child(
        folium.Element(
            "<style>body{font-family:'WenQuanYi Micro Hei','Noto Sans CJK SC','Microsoft YaHei',sans-serif}"
            ".onenet-box{position:fixed;z-index:1000;background:#fff;padding:10px 14px;border-radius:6px;"
            "box-shadow:0 1px 6px rgba(0,0,0,.3);font-size:13px;line-height:1.5;max-width:340px}"
            ".onenet-box h3{margin:0 0 4px;font-size:15px}.onenet-box table{border-collapse:collapse}"
            ".onenet-box td{padding:0 8px 0 0;vertical-align:top}"
            ".dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px}</style>"
        ),
        name="onenet_css",
    )


def _props(value) -> dict:
    """psycopg already decodes json columns; text ones are decoded here."""
    if not value:
        return {}
    return value if isinstance(value, dict) else json.loads(value)


def _features(sql: str, params: list) -> dict:
    """Rows of (geojson, properties json) as a FeatureCollection."""
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": json.loads(g), "properties": _props(p)} for g, p in rows if g
        ],
    }


def _basemap(m: folium.Map, bbox: tuple[float, float, float, float]) -> None:
    """Our own roads, water, green and building footprints inside the box: the offline basemap."""
    env = "st_makeenvelope(%s, %s, %s, %s, 4490)"
    layers = [
        ("green", "绿地 green", {"color": "#8ac97a", "fillColor": "#c9e4b4", "weight": 0}),
        ("water", "水系 water", {"color": "#74b0e0", "fillColor": "#a9cff0", "weight": 0}),
        ("building", "楼栋 buildings", {"color": "#bcae9e", "fillColor": "#dcd3c8", "weight": 1}),
    ]
    for table, title, style in layers:
        fc = _features(
            f"select st_asgeojson(st_intersection(geom, {env}), 6), null from layers_{table} "
            f"where geom && {env} limit 5000",
            [*bbox, *bbox],
        )
        style = {**style, "fillOpacity": 0.9}
        folium.GeoJson(fc, name=title, style_function=lambda _f, s=style: s, control=False).add_to(m)
    roads = _features(
        f"select st_asgeojson(st_intersection(geom, {env}), 6), "
        f"json_build_object('name', name, 'kind', kind) from layers_road where geom && {env} limit 5000",
        [*bbox, *bbox],
    )
    widths = {"arterial": 6, "secondary": 4, "branch": 3, "rural": 2, "alley": 1.5}
    folium.GeoJson(
        roads,
        name="道路 roads",
        control=False,
        style_function=lambda f: {
            "color": "#f6c96b" if f["properties"].get("kind") == "arterial" else "#ffffff",
            "weight": widths.get(f["properties"].get("kind"), 2),
            "opacity": 1,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
    ).add_to(m)


def _outline(table: str, pk: int) -> tuple[dict, tuple[float, float, float, float]]:
    with connection.cursor() as cur:
        cur.execute(
            f"select st_asgeojson(geom, 6), st_xmin(geom), st_ymin(geom), st_xmax(geom), st_ymax(geom) "
            f"from {table} where id = %s",
            [pk],
        )
        g, *box = cur.fetchone()
    return json.loads(g), tuple(box)


def _grow(box: tuple[float, float, float, float], share: float, minimum: float = 0.002):
    dx = max((box[2] - box[0]) * share, minimum)
    dy = max((box[3] - box[1]) * share, minimum)
    return (box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy)


def _case_marker(c, layer, big: bool = False) -> None:
    light = case_light(c)
    tip = (
        f"<b>{escape(c.number)}</b><br>{escape(c.category.name)} · {escape(c.get_status_display())}<br>"
        f"{timezone.localtime(c.reported_at):%Y-%m-%d %H:%M}"
    )
    folium.CircleMarker(
        location=[c.geom.y, c.geom.x],
        radius=11 if big else 6,
        color="#ffffff" if not big else "#212529",
        weight=2 if not big else 3,
        fill=True,
        fill_color=LIGHT_COLOURS.get(light, "#868e96") if c.status not in FINAL_STATES else "#868e96",
        fill_opacity=0.95,
        tooltip=tip,
    ).add_to(layer)


def _legend(m: folium.Map) -> None:
    dots = "".join(
        f'<span class="dot" style="background:{LIGHT_COLOURS[k]}"></span>{label}&nbsp; '
        for k, label in [("green", "正常 on time"), ("yellow", "临期 due soon"), ("red", "超期 overdue")]
    )
    m.get_root().html.add_child(
        folium.Element(
            f'<div class="onenet-box" style="bottom:16px;right:16px">{dots}'
            f'<br><span class="dot" style="background:#868e96"></span>已办结 finished'
            f'&nbsp; <span class="dot" style="background:#0ca678"></span>服务站点 station{_credits()}</div>'
        )
    )


def _credits() -> str:
    """The credit a licensed basemap source is owed (the real city's OpenStreetMap footprints and roads):
    Leaflet's own attribution control is off, so the file says it here."""
    from layers.models import Building
    from tiles.documents import SOURCE_CREDITS

    found = [c for source, c in SOURCE_CREDITS.items() if Building.objects.filter(source=source).exists()]
    return "".join(f"<br>底图 basemap {escape(c)}" for c in found)


def _info_box(m: folium.Map, title: str, rows: list[tuple[str, str]]) -> None:
    body = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    m.get_root().html.add_child(
        folium.Element(
            f'<div class="onenet-box" style="top:12px;left:56px"><h3>{escape(title)}</h3>'
            f'<table>{body}</table><div style="color:#868e96;margin-top:4px">'
            f"内部资料，注意保管 · internal, handle with care · 一网统管电子地图 "
            f"{timezone.localtime():%Y-%m-%d %H:%M}</div></div>"
        )
    )
    m.get_root().header.add_child(folium.Element(f"<title>{escape(title)}</title>"), name="title")


def _stations(m: folium.Map, bbox) -> None:
    layer = folium.FeatureGroup(name="服务站点 stations").add_to(m)
    with connection.cursor() as cur:
        cur.execute(
            "select name, hours, phone, st_x(geom), st_y(geom) from layers_servicestation "
            "where is_public and geom && st_makeenvelope(%s, %s, %s, %s, 4490)",
            list(bbox),
        )
        for name, hours, phone, x, y in cur.fetchall():
            folium.CircleMarker(
                [y, x],
                radius=7,
                color="#ffffff",
                weight=2,
                fill=True,
                fill_color="#0ca678",
                fill_opacity=1,
                tooltip=f"{escape(name)}<br>{escape(hours)}<br>{escape(phone)}",
            ).add_to(layer)


def _new_map(bbox) -> OfflineMap:
    m = OfflineMap(
        location=[(bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2],
        zoom_start=15,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        # Leaflet's attribution control links to its web site: nothing in the file points outside.
        attributionControl=False,
    )
    _inline_leaflet(m)
    return m


def _download(m: folium.Map, name: str) -> HttpResponse:
    html = m.get_root().render()
    response = HttpResponse(html.encode("utf-8"), content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@router.get(
    "grid/{str:code}.html",
    response=responses(None, 401, 404),
    summary="态势图 · a grid's situation map: its cases of the last 30 days, stations, basemap (HTML)",
    openapi_extra={"responses": HTML},
)
def export_grid(request: HttpRequest, code: str) -> HttpResponse:
    """GET /api/map/export/grid/<code>.html — the grid, its cases of the last 30 days, stations, basemap."""
    if not CODE.match(code):
        return error_json(400, "编码格式不正确", "malformed code")
    grid = Grid.objects.current().select_related("community", "net").filter(code=code).first()
    if grid is None:
        return error_json(404, "没有这个网格", f"no current grid {code}")
    if not covers(request.user, grid.code):
        return error_json(403, "该网格不在您的辖区内", "the grid is outside your jurisdiction")
    outline, box = _outline("layers_grid", grid.pk)
    bbox = _grow(box, 0.15)
    m = _new_map(bbox)
    _basemap(m, bbox)
    folium.GeoJson(
        outline,
        name=f"网格 {grid.name}",
        style_function=lambda _f: {"color": "#e8590c", "weight": 4, "fill": True, "fillOpacity": 0.04},
    ).add_to(m)
    since = timezone.now() - dt.timedelta(days=30)
    net_key = grid.net.code
    cases = (
        visible_cases(request.user)
        .filter(
            **({"grid_code": grid.code} if grid.net.follows_communities else {f"grids__{net_key}": grid.code})
        )
        .filter(geom__isnull=False)
        .exclude(status__in=["rejected", "merged"])
        .filter(reported_at__gte=since)
        .select_related("category")
        .order_by("reported_at")[:2000]
    )
    open_layer = folium.FeatureGroup(name="未结案件 open cases").add_to(m)
    done_layer = folium.FeatureGroup(name="近30天已办结 closed (30 days)", show=False).add_to(m)
    lights = {"green": 0, "yellow": 0, "red": 0}
    n_open = n_done = 0
    for c in cases:
        if c.status in FINAL_STATES:
            n_done += 1
            _case_marker(c, done_layer)
        else:
            n_open += 1
            lights[case_light(c) or "green"] = lights.get(case_light(c) or "green", 0) + 1
            _case_marker(c, open_layer)
    _stations(m, bbox)
    with connection.cursor() as cur:
        cur.execute(
            "select count(*), coalesce(sum(households), 0), coalesce(sum(residents), 0) "
            "from layers_building where grid_code = %s",
            [grid.code],
        )
        buildings, households, residents = cur.fetchone()
    _info_box(
        m,
        f"网格态势图 · {grid.name}",
        [
            ("网格编码 grid", grid.code),
            ("所属社区 community", grid.community.name if grid.community else "—"),
            ("网 net", f"{grid.net.name} {grid.net.name_en}"),
            ("楼栋/户/人 buildings/households/residents", f"{buildings} / {households} / {residents}"),
            (
                "未结案件 open",
                f"{n_open}（红 {lights['red']} · 黄 {lights['yellow']} · 绿 {lights['green']}）",
            ),
            ("近30天办结 closed in 30 days", str(n_done)),
        ],
    )
    _legend(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[box[1], box[0]], [box[3], box[2]]])
    return _download(m, f"situation-grid-{grid.code}-{timezone.localtime():%Y%m%d%H%M}.html")


@router.get(
    "case/{str:number}.html",
    response=responses(None, 401, 404, 409),
    summary="态势图 · a case's situation map: the case, its grid, neighbours and trail (HTML)",
    openapi_extra={"responses": HTML},
)
def export_case(request: HttpRequest, number: str) -> HttpResponse:
    """GET /api/map/export/case/<number>.html — the case, its grid, its neighbours and trail."""
    case = (
        visible_cases(request.user)
        .select_related("category", "department", "duplicate_of")
        .filter(number=number[:24])
        .first()
    )
    if case is None:
        return error_json(404, "案件不存在或无权查看", "no such case, or not yours to see")
    if case.geom is None:
        return error_json(409, "案件尚未定位，无法出图", "the case is not placed yet")
    p = case.geom
    box = (p.x - 0.004, p.y - 0.003, p.x + 0.004, p.y + 0.003)
    grid = Grid.objects.current().filter(code=case.grid_code).first() if case.grid_code else None
    if grid is not None:
        _g, gbox = _outline("layers_grid", grid.pk)
        box = (min(box[0], gbox[0]), min(box[1], gbox[1]), max(box[2], gbox[2]), max(box[3], gbox[3]))
    bbox = _grow(box, 0.1)
    m = _new_map(bbox)
    _basemap(m, bbox)
    if grid is not None:
        folium.GeoJson(
            _g,
            name=f"网格 {grid.name}",
            style_function=lambda _f: {"color": "#e8590c", "weight": 3, "fill": True, "fillOpacity": 0.03},
        ).add_to(m)
    near = folium.FeatureGroup(name="周边未结案件 open cases nearby").add_to(m)
    others = (
        visible_cases(request.user)
        .exclude(pk=case.pk)
        .exclude(status__in=FINAL_STATES)
        .filter(geom__isnull=False, geom__dwithin=(p, 0.004))
        .select_related("category")[:500]
    )
    for c in others:
        _case_marker(c, near)
    _stations(m, bbox)
    _case_marker(case, folium.FeatureGroup(name=f"案件 {case.number}").add_to(m), big=True)
    trail = list(case.events.order_by("at", "id").values_list("at", "action")[:12])
    rows = [
        ("类别 category", case.category.name),
        ("状态 status", f"{case.get_status_display()} · {case_light(case) or '—'}"),
        (
            "上报 reported",
            f"{timezone.localtime(case.reported_at):%Y-%m-%d %H:%M} · {case.get_channel_display()}",
        ),
        ("网格 grid", f"{grid.name} {grid.code}" if grid else "—"),
        ("处置 assignee", case.department.name if case.department_id else (case.assignee_code or "—")),
        ("时限 deadline", f"{timezone.localtime(case.deadline):%Y-%m-%d %H:%M}" if case.deadline else "—"),
        ("描述 description", (case.description or "")[:200]),
    ]
    rows += [(f"{timezone.localtime(at):%m-%d %H:%M}", action) for at, action in trail]
    _info_box(m, f"案件态势图 · {case.number}", rows)
    _legend(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[box[1], box[0]], [box[3], box[2]]])
    return _download(m, f"situation-case-{case.number}-{timezone.localtime():%Y%m%d%H%M}.html")
