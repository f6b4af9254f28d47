"""The Django admin on the demo city: every model answers, the map needs no internet, residents are masked."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.utils import timezone

from cases.models import Case
from gisapp.accounts.models import ApiToken
from layers.masking import mask_id_number, mask_name, mask_phone
from layers.models import AdminLevel, AdminUnit, Building, Grid, Resident

ROOT = Path(__file__).resolve().parent.parent
OL_JS = ROOT / "frontend" / "dist" / "vendor" / "ol" / "ol.js"

# Every model the admin must offer (issue 2: "Django admin for every layer").
ADMIN_MODELS = [
    "layers.AdminUnit",
    "layers.Net",
    "layers.Generation",
    "layers.Grid",
    "layers.GridWorker",
    "layers.Building",
    "layers.HouseUnit",
    "layers.Resident",
    "layers.PartyOrganisation",
    "layers.ServiceStation",
    "layers.Road",
    "layers.Water",
    "layers.Green",
    "cases.Category",
    "cases.Case",
    "accounts.Department",
    "accounts.Profile",
    "accounts.ApiToken",
]
# Hosts that must never appear in an admin page on a closed network.
ONLINE_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "openstreetmap", "earthdata.nasa.gov", "googleapis", "cdnjs")
# A change form of a big table must not list its foreign keys' rows (10k buildings, 100k house units …).
MAX_OPTIONS = 300


@pytest.fixture
def root_client(client, django_user_model):
    """A logged-in superuser of our own (the demo `admin` user is an app role, not a Django superuser)."""
    # No password: hashing one costs ~0.4 s per test and force_login needs none.
    user = django_user_model.objects.create(username="admin-test-root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def _url(label: str, suffix: str = "") -> str:
    model = apps.get_model(label)
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/{suffix}"


def _some_row(label: str):
    model = apps.get_model(label)
    if model is ApiToken and not ApiToken.objects.exists():
        user = apps.get_model("auth.User").objects.order_by("pk").first()
        ApiToken.issue(user, timezone.timedelta(hours=1))
    row = model.objects.order_by("pk").first()
    assert row is not None, f"the demo city has no {label}"
    return row


def _html(response) -> str:
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    return response.content.decode()


def test_every_model_is_registered():
    registered = {m._meta.label for m in admin.site._registry}
    assert set(ADMIN_MODELS) <= registered


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_changelist_answers(root_client, db, label):
    _html(root_client.get(_url(label)))


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_change_page_answers_without_listing_every_row(root_client, db, label):
    row = _some_row(label)
    html = _html(root_client.get(_url(label, f"{row.pk}/change/")))
    assert html.count("<option") < MAX_OPTIONS
    # Database-generated geometry is never a form field.
    assert 'name="geom_3857"' not in html and 'name="point"' not in html


@pytest.mark.parametrize(
    "label, query",
    [
        ("layers.Building", "?street={street}"),
        ("layers.Building", "?q={road}"),
        ("layers.Building", "?use=residential"),
        ("layers.HouseUnit", "?street={street}"),
        ("layers.Grid", "?street={street}"),
        ("layers.Grid", "?q={grid}"),
        ("layers.GridWorker", "?q={grid}"),
        ("layers.Resident", "?tag=elderly_alone"),
        ("layers.Resident", "?street={street}"),
        ("cases.Case", "?street={street}"),
        ("cases.Case", "?status=closed"),
        ("layers.AdminUnit", "?level=community"),
        ("layers.Building", "?street=not-a-code"),
    ],
)
def test_filters_and_search_answer(root_client, db, label, query):
    street = AdminUnit.objects.filter(level=AdminLevel.STREET).order_by("code").first()
    building = Building.objects.order_by("pk").first()
    grid = Grid.objects.order_by("pk").first()
    url = _url(label) + query.format(street=street.code, road=building.road_name, grid=grid.code[:12])
    _html(root_client.get(url))


def test_building_search_finds_by_address(root_client, db):
    building = Building.objects.order_by("pk").first()
    html = _html(root_client.get(_url("layers.Building"), {"q": building.address}))
    assert f"/{building.pk}/change/" in html


def _external_references(html: str) -> list[str]:
    """src/href values that point to another host than the page's own (absolute http(s) or //host)."""
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    return [r for r in refs if urlsplit(r).netloc and urlsplit(r).hostname not in {"testserver", None}]


def test_cases_are_read_only_in_the_admin(root_client, db):
    """Cases change only through the loop (which writes the trail): the admin shows, never saves."""
    case = Case.objects.order_by("pk").first()
    html = _html(root_client.get(f"/admin/cases/case/{case.pk}/change/"))
    assert case.number in html and 'name="_save"' not in html
    assert root_client.post(f"/admin/cases/case/{case.pk}/change/", {"status": "closed"}).status_code == 403


@pytest.mark.parametrize("label", ["layers.Grid", "layers.Building", "layers.ServiceStation"])
def test_map_widget_is_offline(root_client, db, label):
    row = _some_row(label)
    html = _html(root_client.get(_url(label, f"{row.pk}/change/")))
    # The map widget is there, with our OpenLayers and our background …
    assert 'class="dj_map_wrapper onenet-map"' in html
    # started by layers/offline-map.js from data attributes: no inline script (Content-Security-Policy)
    assert 'data-widget-id="' in html and 'src="/static/layers/offline-map.js"' in html
    assert "<script>" not in html
    assert 'src="/static/vendor/ol/ol.js"' in html
    assert 'href="/static/vendor/ol/ol.css"' in html
    assert "/admin/basemap.geojson" in html
    # … and nothing from the internet: no CDN, no online tile layer.
    assert _external_references(html) == []
    for host in ONLINE_HOSTS:
        assert host not in html, host
    assert "ol.source.OSM" not in html and "ol.source.XYZ" not in html


def test_external_reference_detector_can_fail():
    page = '<script src="https://cdn.jsdelivr.net/npm/ol@v7.2.2/dist/ol.js"></script><a href="//osm.org/x">'
    assert len(_external_references(page)) == 2
    assert _external_references('<script src="/static/x.js"></script><a href="#top">') == []


def test_saving_the_map_widget_keeps_the_geometry(root_client, db):
    """The widget edits in EPSG:3857; what it posts back lands in CGCS2000 where it was."""
    grid = Grid.objects.order_by("pk").first()
    original = grid.geom.clone()
    moved = grid.geom.transform(3857, clone=True)
    data = {
        "net": grid.net_id,
        "code": grid.code,
        "name": grid.name + "（改）",
        "kind": grid.kind,
        "community": grid.community_id or "",
        "district": grid.district_id,
        "target_households": grid.target_households,
        "generation_low": grid.generation_low,
        "generation_high": grid.generation_high or "",
        "geom": moved.json,
    }
    response = root_client.post(_url("layers.Grid", f"{grid.pk}/change/"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    grid.refresh_from_db()
    assert grid.name.endswith("（改）")
    assert grid.geom.srid == 4490
    assert grid.geom.equals_exact(original, tolerance=1e-7)
    # The database regenerated the tile copy from the saved geometry.
    assert grid.geom_3857.srid == 3857 and grid.geom_3857.envelope.intersects(moved.envelope)


def test_add_page_map_opens_on_the_district(root_client, db):
    html = _html(root_client.get(_url("layers.Grid", "add/")))
    config = re.search(r'<script id="id_geom_basemap" type="application/json">(.*?)</script>', html)
    assert config and '"home": [' in config.group(1)


def test_basemap_background(root_client, db):
    minx, miny, maxx, maxy = AdminUnit.objects.filter(level=AdminLevel.DISTRICT).first().geom_3857.extent
    bbox = f"{minx},{miny},{maxx},{maxy}"
    response = root_client.get("/admin/basemap.geojson", {"bbox": bbox})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/geo+json")
    data = response.json()
    layers = {f["properties"]["layer"] for f in data["features"]}
    assert {"admin", "road"} <= layers and "grid" not in layers
    assert all(f["geometry"]["type"] for f in data["features"])
    # Zoomed in: the grids in force and minor roads come along.
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    near = f"{cx - 500},{cy - 500},{cx + 500},{cy + 500}"
    detail = root_client.get("/admin/basemap.geojson", {"bbox": near, "detail": "1"}).json()
    assert "grid" in {f["properties"]["layer"] for f in detail["features"]}


@pytest.mark.parametrize("bbox", ["", "1,2,3", "a,b,c,d", "5,5,1,1", "nan,0,1,1", "0,0,inf,1"])
def test_basemap_rejects_bad_bbox(root_client, db, bbox):
    assert root_client.get("/admin/basemap.geojson", {"bbox": bbox}).status_code == 400


def test_basemap_is_staff_only(client, db):
    response = client.get("/admin/basemap.geojson", {"bbox": "0,0,1,1"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/ol/ol.js",
        "/static/vendor/ol/ol.css",
        "/static/gis/js/OLMapWidget.js",
        "/static/layers/offline-map.js",
    ],
)
def test_map_static_files_are_served(client, path):
    if path.startswith("/static/vendor/") and not OL_JS.exists():
        pytest.skip("frontend/dist is not built (./gis builds it with npm)")
    response = client.get(path)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert len(body) > 100
    if path.endswith("ol.js"):
        assert body.startswith(b"var ol=")  # the UMD build, defining the global OLMapWidget.js uses


def test_residents_are_masked_in_the_list(root_client, db):
    html = _html(root_client.get(_url("layers.Resident")))
    shown = list(Resident.objects.order_by("-pk")[:100])  # the first page (newest first)
    assert shown
    for person in shown:
        assert person.id_number not in html
        if person.phone:
            assert person.phone not in html
        assert mask_id_number(person.id_number) in html
    names = re.findall(r'<th class="field-masked_name"><a [^>]*>([^<]*)</a></th>', html)
    assert names and all(re.fullmatch(r".\*\*", n) for n in names), names[:5]
    assert mask_name(shown[0].name) in names


def test_resident_change_page_title_is_masked(root_client, db):
    person = Resident.objects.order_by("pk").first()
    html = _html(root_client.get(_url("layers.Resident", f"{person.pk}/change/")))
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert person.name not in title and person.id_number not in title


def test_residents_are_for_superusers_only(client, db, django_user_model):
    staff = django_user_model.objects.create(username="admin-test-staff", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="layers"))
    client.force_login(staff)
    assert client.get(_url("layers.Resident")).status_code == 403
    person = Resident.objects.order_by("pk").first()
    assert client.get(_url("layers.Resident", f"{person.pk}/change/")).status_code == 403
    index = _html(client.get("/admin/layers/"))
    assert _url("layers.Resident") not in index
    # The rest of the layers stay open to the same account.
    _html(client.get(_url("layers.Building")))


def test_api_tokens_are_read_only(root_client, db):
    token = _some_row("accounts.ApiToken")
    assert root_client.get(_url("accounts.ApiToken", "add/")).status_code == 403
    html = _html(root_client.get(_url("accounts.ApiToken", f"{token.pk}/change/")))
    assert token.key_hash not in html
    assert 'name="_save"' not in html


def test_masking_functions():
    assert mask_name("张三丰") == "张**" and mask_name("李") == "李**" and mask_name("") == ""
    assert mask_id_number("230602198001011234") == "230602********1234"
    assert mask_id_number("230602800101123") == "230602*****1123"
    assert mask_id_number("12345") == "*****"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0459-1234567") == "045*****4567"
    assert mask_phone("110") == "***"
