"""`./gis onboard DIR` (onboarding/): a handover folder made here, with the defects a real one has.

A new city (990200 with one district 990201, east of the demo city) arrives as a GeoJSON of its city
and district outlines, a GBK street
Shapefile in the Gauss-Kruger zone without a .cpg, a community Shapefile whose two communities overlap
and leave a gap, and buildings of which some are broken; an address table the version cannot load yet.
The dry run must change nothing and name every defect; --apply must load what the dry run called
loadable; a second --apply must change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import fiona
import numpy as np
import pyproj
import pytest
import shapely
from django.core.management import call_command
from shapely.geometry import Polygon, box, mapping

from layers.models import AdminUnit, Building
from onboarding.manifest import ManifestError, read_manifest
from onboarding.models import Onboarding
from onboarding.run import onboard

pytestmark = pytest.mark.django_db
X0, Y0 = 126.00, 46.565  # east of the demo city (which ends at 125.99)
W, H = 0.02, 0.02


def _write(path: Path, schema: dict, rows: list[tuple], crs: str = "EPSG:4326", **kw) -> None:
    with fiona.open(path, "w", driver=kw.pop("driver", "GeoJSON"), crs=crs, schema=schema, **kw) as out:
        for geom, props in rows:
            out.write({"geometry": mapping(geom), "properties": props})


def _to_4547(geom):
    t = pyproj.Transformer.from_crs(4326, 4547, always_xy=True)
    return shapely.transform(geom, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    unit = {"geometry": "Polygon", "properties": {"code": "str", "name": "str"}}
    outline = box(X0, Y0, X0 + W, Y0 + H)
    _write(tmp_path / "city.geojson", unit, [(outline, {"code": "990200", "name": "明川市"})])
    _write(tmp_path / "district.geojson", unit, [(outline, {"code": "990201", "name": "明川区"})])
    # the street: GBK attributes, EPSG:4547 (CM 114°E, not even this place's zone), no .cpg
    _write(
        tmp_path / "streets.shp",
        unit,
        [(_to_4547(box(X0, Y0, X0 + W, Y0 + H)), {"code": "990201001", "name": "东湖街道"})],
        crs="EPSG:4547",
        driver="ESRI Shapefile",
        encoding="gbk",
    )
    (tmp_path / "streets.cpg").unlink(missing_ok=True)
    # two communities: the west one reaches 0.001° into the east one, and a strip at the top is nobody's
    west = box(X0, Y0, X0 + W / 2 + 0.001, Y0 + H - 0.002)
    east = box(X0 + W / 2, Y0, X0 + W, Y0 + H - 0.002)
    _write(
        tmp_path / "communities.shp",
        unit,
        [
            (west, {"code": "990201001001", "name": "西湖社区"}),
            (east, {"code": "990201001002", "name": "东岸社区"}),
        ],
        driver="ESRI Shapefile",
        encoding="utf-8",
    )
    b = {"geometry": "Polygon", "properties": {"用途": "str", "路名": "str", "门牌": "str", "floors": "int"}}
    good = [
        (box(X0 + 0.002 + i * 0.001, Y0 + 0.002, X0 + 0.0025 + i * 0.001, Y0 + 0.0025), i) for i in range(6)
    ]
    bowtie = Polygon(
        [
            (X0 + 0.015, Y0 + 0.005),
            (X0 + 0.016, Y0 + 0.006),
            (X0 + 0.016, Y0 + 0.005),
            (X0 + 0.015, Y0 + 0.006),
        ]
    )
    rows = [
        (g, {"用途": "residential", "路名": "湖滨路", "门牌": f"{i + 1}号", "floors": 6}) for g, i in good
    ]
    rows.append((bowtie, {"用途": "residential", "路名": "湖滨路", "门牌": "99号", "floors": 3}))
    rows.append(
        (
            box(X0 + 0.012, Y0 + 0.002, X0 + 0.0125, Y0 + 0.0025),
            {"用途": "residential", "路名": "湖滨路", "门牌": None, "floors": 2},
        )
    )
    # one in the strip that no community holds, and the first one again
    rows.append(
        (
            box(X0 + 0.005, Y0 + H - 0.0015, X0 + 0.0055, Y0 + H - 0.001),
            {"用途": "residential", "路名": "湖滨路", "门牌": "7号", "floors": 2},
        )
    )
    rows.append(rows[0])
    _write(tmp_path / "buildings.geojson", b, rows)
    (tmp_path / "addresses.csv").write_text(
        "标准地址,楼栋编码\n明川区东湖街道湖滨路1号,B1\n", encoding="utf-8"
    )
    (tmp_path / "onboard.yaml").write_text(
        """layers:
  admin-units:
    - {file: communities.shp, level: community}
    - {file: streets.shp, level: street}
    - {file: district.geojson, level: district}
    - {file: city.geojson, level: city}
  buildings: {file: buildings.geojson, fields: {use: 用途, road: 路名, door_number: 门牌}}
  addresses: {file: addresses.csv, fields: {address: 标准地址, building_code: 楼栋编码}}
""",
        encoding="utf-8",
    )
    return tmp_path


def test_the_dry_run_changes_nothing_and_names_every_defect(folder):
    units, buildings = AdminUnit.objects.count(), Building.objects.count()
    report = onboard(folder)
    assert AdminUnit.objects.count() == units and Building.objects.count() == buildings
    assert not AdminUnit.objects.filter(code__startswith="9902").exists()
    assert not report["applied"] and not Onboarding.objects.exists()
    assert json.loads((folder / "onboard-report.json").read_text(encoding="utf-8")) == report
    admin = report["layers"]["admin-units"]
    assert (admin["read"], admin["loadable"], admin["rejected"]) == (5, 5, [])
    # loaded city first, then the district, the street, then the communities, whatever the manifest's order
    files = [f["file"] for f in admin["files"]]
    assert files == ["city.geojson", "district.geojson", "streets.shp", "communities.shp"]
    street = admin["files"][2]
    assert "gbk" in street["encoding"].lower() and "4547" in street["crs"]
    bld = report["layers"]["buildings"]
    # the bow-tie (row 7) is made valid and loads; the copy of row 1 (row 10) is left out
    assert (bld["read"], bld["loadable"]) == (10, 7)
    assert sorted(r["row"] for r in bld["rejected"]) == [8, 9]
    assert [(r["row"], r["how"].split(" ")[0]) for r in bld["repaired"]] == [
        (7, "MakeValid（ST_MakeValid）修复无效几何"),
        (10, "与第"),
    ]
    assert (
        "Self-intersection" in bld["repaired"][0]["how"]
        and "duplicate of feature 1" in bld["repaired"][1]["how"]
    )
    assert all(r["reason"] and r["file"] == "buildings.geojson" for r in bld["rejected"])
    assert "door_number" in next(r["reason"] for r in bld["rejected"] if r["row"] == 8)
    # a layer this version cannot load yet says so instead of pretending
    addresses = report["layers"]["addresses"]
    assert addresses["loadable"] == 0 and "cannot onboard" in addresses["files"][0]["error"]
    overlap, gap = report["checks"]["communities_overlap"], report["checks"]["communities_gap"]
    assert overlap["count"] == 1 and overlap["examples"][0]["communities"] == ["990201001001", "990201001002"]
    assert 10_000 < overlap["examples"][0]["area_m2"] < 200_000  # 0.001° × 0.018° at 46.6°N ≈ 153,000 m²
    # the strip nobody holds, largest first; the street's reprojected corners leave crumbs beside it
    assert gap["count"] >= 1 and gap["examples"][0]["street"] == "990201001"
    assert 300_000 < gap["examples"][0]["area_m2"] < 400_000
    outside = report["checks"]["buildings_outside_communities"]
    assert outside["count"] == 1 and outside["examples"][0]["row"] == 9
    page = (folder / "onboard-report.html").read_text(encoding="utf-8")
    assert (
        "试运行" in page
        and "buildings.geojson" in page
        and "<svg" in page
        and "duplicate of feature 1" in page
    )


def test_apply_loads_what_the_dry_run_found_loadable_and_twice_changes_nothing(folder):
    dry = onboard(folder)
    before = Building.objects.count()
    applied = onboard(folder, apply=True)
    assert applied["applied"] and Onboarding.objects.count() == 1
    assert (
        AdminUnit.objects.filter(code__startswith="9902").count() == dry["layers"]["admin-units"]["loadable"]
    )
    assert Building.objects.count() - before == dry["layers"]["buildings"]["loadable"] == 7
    assert set(
        Building.objects.filter(community__code__startswith="990201").values_list("door_number", flat=True)
    ) == {*(f"{i}号" for i in range(1, 7)), "99号"}
    again = onboard(folder, apply=True)
    assert again["already_applied"] and not again["applied"]
    assert Building.objects.count() - before == 7 and Onboarding.objects.count() == 1


def test_the_command_prints_a_summary(folder, capsys):
    call_command("onboard", str(folder))
    out = capsys.readouterr().out
    assert "buildings: read 10, loadable 7, repaired 2, rejected 2" in out and "dry run" in out


@pytest.mark.parametrize(
    "manifest, says",
    [
        ("layers: {parks: {file: a.geojson}}", "unknown layer"),
        ("layers: {buildings: {file: nothing.geojson}}", "no such file"),
        ("layers: {buildings: {file: ../outside.geojson}}", "inside the folder"),
        ("layers: {buildings: {file: buildings.geojson, colour: red}}", "unknown keys"),
        ("layers: {admin-units: {file: district.geojson, level: province}}", "must be one of"),
        ("layers: [1, 2]", "needs layers"),
        ("layers: {buildings: {file: buildings.geojson, fields: [use]}}", "our field"),
    ],
)
def test_a_bad_manifest_is_refused_before_anything_is_read(folder, manifest, says):
    (folder / "onboard.yaml").write_text(manifest, encoding="utf-8")
    with pytest.raises(ManifestError, match=says):
        read_manifest(folder)


def test_an_unknown_column_in_fields_is_reported_for_its_file(folder):
    text = (folder / "onboard.yaml").read_text(encoding="utf-8").replace("门牌}", "门牌号}")
    (folder / "onboard.yaml").write_text(text, encoding="utf-8")
    report = onboard(folder)
    files = report["layers"]["buildings"]["files"]
    assert "门牌号" in files[0]["error"] and report["layers"]["buildings"]["loadable"] == 0
    assert report["layers"]["admin-units"]["loadable"] == 5  # the other files still load
