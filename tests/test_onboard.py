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
import openpyxl
import pyproj
import pytest
import shapely
from django.core.management import call_command
from shapely.geometry import LineString, Polygon, box, mapping

from cases.models import Case
from layers.models import Address, AdminUnit, Building, HouseUnit
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


def _register(folder: Path) -> None:
    """公安's address register as an Excel sheet: 20 rows of which one (5 %) names no building, and a
    repeated row."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["地址编码", "标准地址", "楼栋编码", "街路巷", "门牌号"])
    for i in range(1, 9):
        sheet.append([f"A{i}", f"明川区东湖街道湖滨路{i}号", f"B{i}", "湖滨路", f"{i}号"])
    for i in range(1, 9):
        sheet.append([f"A{i}b", f"明川区东湖街道滨河路{i}号", f"B{i}", "滨河路", f"{i}号"])
    for i in range(1, 4):
        sheet.append([f"A{i}c", f"明川区东湖街道湖滨路{i}号附1", f"B{i}", "湖滨路", f"{i}号附1"])
    sheet.append(["A404", "明川区东湖街道湖滨路404号", "B404", "湖滨路", "404号"])  # row 21: no such building
    sheet.append(["A2", "明川区东湖街道湖滨路2号", "B2", "湖滨路", "2号"])  # row 22: row 3 again
    book.save(folder / "addresses.xlsx")


def _house_units(folder: Path) -> None:
    """House units as Excel on a Chinese Windows exports them: GBK, Chinese headers."""
    lines = ["楼栋编码,单元,楼层,户室,户数,人数"]
    for b in ("B1", "B2", "B3"):
        for unit in (1, 2):
            for room in ("101", "102"):
                lines.append(f"{b},{unit},1,{room},1,3")
    lines.append("B999,1,1,101,1,2")  # row 14: no such building
    lines.append("B1,1,1,101,1,2")  # row 15: the unit of row 2 again
    (folder / "house-units.csv").write_bytes(("\n".join(lines) + "\n").encode("gbk"))


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
    b = {
        "geometry": "Polygon",
        "properties": {"用途": "str", "路名": "str", "门牌": "str", "floors": "int", "楼栋编码": "str"},
    }
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
        (
            g,
            {
                "用途": "residential",
                "路名": "湖滨路",
                "门牌": f"{i + 1}号",
                "floors": 6,
                "楼栋编码": f"B{i + 1}",
            },
        )
        for g, i in good
    ]
    rows.append(
        (bowtie, {"用途": "residential", "路名": "湖滨路", "门牌": "99号", "floors": 3, "楼栋编码": "B7"})
    )
    # no door number in the survey: the address register gives it one
    rows.append(
        (
            box(X0 + 0.012, Y0 + 0.002, X0 + 0.0125, Y0 + 0.0025),
            {"用途": "residential", "路名": None, "门牌": None, "floors": 2, "楼栋编码": "B8"},
        )
    )
    # one in the strip that no community holds, and the first one again
    rows.append(
        (
            box(X0 + 0.005, Y0 + H - 0.0015, X0 + 0.0055, Y0 + H - 0.001),
            {"用途": "residential", "路名": "湖滨路", "门牌": "7号", "floors": 2, "楼栋编码": "B9"},
        )
    )
    rows.append(rows[0])
    _write(tmp_path / "buildings.geojson", b, rows)
    road = {"geometry": "LineString", "properties": {"name": "str", "kind": "str"}}
    _write(
        tmp_path / "roads.geojson",
        road,
        [
            (LineString([(X0, Y0 + 0.0015), (X0 + W, Y0 + 0.0015)]), {"name": "湖滨路", "kind": "branch"}),
            (LineString([(X0, Y0 + 0.003), (X0 + W, Y0 + 0.003)]), {"name": "滨河路", "kind": "branch"}),
        ],
    )
    _register(tmp_path)
    _house_units(tmp_path)
    # the old grid file: one grid is its community, the other reaches 30 % into the west community
    grid = {"geometry": "Polygon", "properties": {"code": "str", "name": "str"}}
    _write(
        tmp_path / "grids.geojson",
        grid,
        [
            (west, {"code": "990201001001001", "name": "西湖第一网格"}),
            (
                box(X0 + W / 2 - 0.003, Y0, X0 + W, Y0 + H - 0.002),
                {"code": "990201001002001", "name": "东岸一格"},
            ),
        ],
    )
    (tmp_path / "cases.csv").write_bytes(
        "工单编号,受理时间,诉求类别,事发地址,诉求内容,办结时间\n"
        "RX1,2026-03-02 09:15,暴露垃圾,东湖街道湖滨路1号,楼下垃圾没人清,2026-03-02 17:00\n"
        "RX2,2026-05-11 20:40,施工扰民,明川区湖滨路3号,夜间施工,\n"
        "RX3,2026-06-01 08:00,暴露垃圾,火星路1号,不知道在哪,\n"
        "RX4,2026-06-02 08:00,没有这个类别,湖滨路2号,类别错了,\n".encode("gbk")
    )
    (tmp_path / "onboard.yaml").write_text(
        """layers:
  admin-units:
    - {file: communities.shp, level: community}
    - {file: streets.shp, level: street}
    - {file: district.geojson, level: district}
    - {file: city.geojson, level: city}
  roads: {file: roads.geojson}
  buildings: {file: buildings.geojson, fields: {use: 用途, road: 路名, door_number: 门牌, code: 楼栋编码}}
  addresses: {file: addresses.xlsx, fields: {address: 标准地址, building_code: 楼栋编码}}
  house-units: {file: house-units.csv}
  grids: {file: grids.geojson, net: comprehensive}
  cases: {file: cases.csv}
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
    # the bow-tie (row 7) is made valid and loads; the copy of row 1 (row 10) is left out; row 8 has no
    # door number but the register gives it one
    assert (bld["read"], bld["loadable"]) == (10, 8)
    assert [r["row"] for r in bld["rejected"]] == [9]
    assert [(r["row"], r["how"].split(" ")[0]) for r in bld["repaired"]] == [
        (7, "MakeValid（ST_MakeValid）修复无效几何"),
        (10, "与第"),
    ]
    assert (
        "Self-intersection" in bld["repaired"][0]["how"]
        and "duplicate of feature 1" in bld["repaired"][1]["how"]
    )
    assert all(r["reason"] and r["file"] == "buildings.geojson" for r in bld["rejected"])
    addresses = report["layers"]["addresses"]
    assert (addresses["read"], addresses["loadable"]) == (21, 19)
    assert [(r["row"], r["id"]) for r in addresses["rejected"]] == [(21, "A404")]
    assert "B404" in addresses["rejected"][0]["reason"] and [r["row"] for r in addresses["repaired"]] == [22]
    assert addresses["files"][0]["driver"] == "XLSX"
    units = report["layers"]["house-units"]
    assert (units["read"], units["loadable"]) == (14, 12) and units["files"][0]["encoding"].startswith(
        "GB18030"
    )
    assert [r["row"] for r in units["rejected"]] == [14, 15] and "row 2" in units["rejected"][1]["reason"]
    grids = report["layers"]["grids"]
    assert (grids["read"], grids["loadable"]) == (2, 1) and grids["rejected"][0]["row"] == 2
    cases = report["layers"]["cases"]
    assert (cases["read"], cases["loadable"]) == (4, 3)
    assert cases["rejected"][0]["id"] == "RX4" and "unknown category" in cases["rejected"][0]["reason"]
    checks = report["checks"]
    assert checks["addresses_without_building"]["count"] == 1
    assert checks["addresses_without_building"]["examples"][0]["row"] == 21
    assert checks["house_units_without_building"]["count"] == 1
    assert checks["grids_crossing_communities"]["count"] == 1
    assert checks["buildings_without_address"] == {"count": 0, "examples": []}
    assert (
        checks["cases_not_placed"]["count"] == 1 and checks["cases_not_placed"]["examples"][0]["id"] == "RX3"
    )
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
    # the map draws the communities and the overlap and gap themselves, not only points
    assert (
        "<title>990201001001 西湖社区</title>" in page
        and 'fill="#e03131"' in page
        and 'fill="#f59f00"' in page
    )
    assert report["checks"]["communities_overlap"]["examples"][0]["shape"]["type"] in (
        "Polygon",
        "MultiPolygon",
    )


def test_apply_loads_what_the_dry_run_found_loadable_and_twice_changes_nothing(folder):
    from layers.models import Generation, Grid, Net

    dry = onboard(folder)
    before = Building.objects.count()
    net = Net.objects.get(code="comprehensive")
    number = Generation.in_force()[net.pk]
    demo_grids = Grid.objects.current().filter(net=net).count()
    applied = onboard(folder, apply=True)
    assert applied["applied"] and Onboarding.objects.count() == 1
    assert (
        AdminUnit.objects.filter(code__startswith="9902").count() == dry["layers"]["admin-units"]["loadable"]
    )
    assert Building.objects.count() - before == dry["layers"]["buildings"]["loadable"] == 8
    ours = Building.objects.filter(community__code__startswith="990201")
    # door numbers as the register and the geocoder keep them: without 号
    assert set(ours.values_list("door_number", flat=True)) == {*(str(i) for i in range(1, 7)), "99", "8"}
    # B8 took its first register address; every building keeps all of its register addresses
    b8 = ours.get(code="B8")
    assert (b8.address, b8.road_name) == ("明川区东湖街道湖滨路8号", "湖滨路")
    assert Address.objects.filter(building__in=ours).count() == 19
    assert sorted(ours.get(code="B1").addresses.values_list("address", flat=True)) == [
        "明川区东湖街道湖滨路1号",
        "明川区东湖街道湖滨路1号附1",
        "明川区东湖街道滨河路1号",
    ]
    # house units, and their households on the building
    assert HouseUnit.objects.filter(building__in=ours).count() == 12
    assert ours.get(code="B1").households == 4 and ours.get(code="B1").residents == 12
    # the buildings inside the loaded grid are in it; the east community has no grid yet
    assert set(ours.filter(code__in=["B1", "B2", "B6"]).values_list("grid_code", flat=True)) == {
        "990201001001001"
    }
    assert set(ours.filter(code__in=["B7", "B8"]).values_list("grid_code", flat=True)) == {""}
    # cases: placed by the geocoder in their grid of every net, with their real report and closing times
    cases = {
        c.idempotency_key.rsplit(":", 1)[1]: c
        for c in Case.objects.filter(idempotency_key__startswith="onboard:")
    }
    assert sorted(cases) == ["RX1", "RX2", "RX3"]
    assert (
        cases["RX1"].grid_code == "990201001001001"
        and cases["RX1"].grids["comprehensive"] == "990201001001001"
    )
    assert cases["RX1"].status == "closed" and cases["RX1"].reported_at.month == 3
    assert cases["RX3"].needs_placement and not cases["RX3"].grid_code
    assert applied["counts"]["buildings"] == 8 and applied["counts"]["cases"] == 3
    assert applied["counts"]["grids"] == {"comprehensive": 1}
    # the old grid file is published as a new generation; the grids in force elsewhere stay in force
    assert Generation.in_force()[net.pk] == number + 1
    assert Generation.objects.get(net=net, number=number + 1).note == "onboarding"
    assert Grid.objects.current().filter(net=net).count() == demo_grids + 1
    again = onboard(folder, apply=True)
    assert again["already_applied"] and not again["applied"]
    assert Building.objects.count() - before == 8 and Onboarding.objects.count() == 1
    assert Case.objects.filter(idempotency_key__startswith="onboard:").count() == 3


def test_the_command_prints_a_summary(folder, capsys):
    call_command("onboard", str(folder))
    out = capsys.readouterr().out
    assert "buildings: read 10, loadable 8, repaired 2, rejected 1" in out and "dry run" in out


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
    text = (folder / "onboard.yaml").read_text(encoding="utf-8").replace("门牌,", "门牌号,")
    (folder / "onboard.yaml").write_text(text, encoding="utf-8")
    report = onboard(folder)
    files = report["layers"]["buildings"]["files"]
    assert "门牌号" in files[0]["error"] and report["layers"]["buildings"]["loadable"] == 0
    assert report["layers"]["admin-units"]["loadable"] == 5  # the other files still load


def _zip(folder: Path, into: Path) -> Path:
    import zipfile

    path = into / "handover.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"明川区交接/{f.name}")  # one top folder, as people zip a folder
    return path


def test_the_admin_uploads_a_zip_shows_progress_and_applies_after_the_dry_run(
    folder, client, settings, tmp_path_factory
):
    from django.contrib.auth import get_user_model

    from onboarding.models import OnboardingRun

    settings.ONBOARDING_INLINE = True
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))
    client.force_login(get_user_model().objects.get(username="admin"))
    page = client.get("/admin/onboarding/onboardingrun/add/", follow=True)
    assert page.status_code == 200 and b"onboarding-upload" in page.content
    archive = _zip(folder, tmp_path_factory.mktemp("zip"))
    with open(archive, "rb") as f:
        answer = client.post("/admin/onboarding/onboardingrun/upload/", {"folder": f})
    assert answer.status_code == 302
    run = OnboardingRun.objects.get()
    assert answer["Location"].endswith(f"/{run.pk}/progress/") and run.status == "done" and not run.apply
    assert not AdminUnit.objects.filter(code__startswith="9902").exists()  # a dry run
    status = client.get(f"/admin/onboarding/onboardingrun/{run.pk}/status/").json()
    assert status["layers"]["buildings"] == {"read": 10, "loadable": 8, "repaired": 2, "rejected": 1}
    assert status["checks"]["addresses_without_building"] == 1
    progress = client.get(answer["Location"])
    assert b"onboarding/progress.js" in progress.content and b"<script>" not in progress.content
    report = client.get(f"/admin/onboarding/onboardingrun/{run.pk}/report/")
    assert report.status_code == 200 and "buildings.geojson" in b"".join(report.streaming_content).decode()
    applied = client.post(f"/admin/onboarding/onboardingrun/{run.pk}/apply/")
    second = OnboardingRun.objects.exclude(pk=run.pk).get()
    assert applied.status_code == 302 and second.apply and second.status == "done"
    assert (
        second.report["applied"]
        and Building.objects.filter(community__code__startswith="990201").count() == 8
    )
    # the same page refuses to apply an applied run again, and a bad zip is refused with its reason
    again = client.post(f"/admin/onboarding/onboardingrun/{second.pk}/apply/")
    assert again.status_code == 302 and OnboardingRun.objects.count() == 2
    bad = tmp_path_factory.mktemp("bad") / "x.zip"
    bad.write_bytes(b"not a zip")
    with open(bad, "rb") as f:
        refused = client.post("/admin/onboarding/onboardingrun/upload/", {"folder": f})
    assert refused.status_code == 400 and "not a valid zip" in refused.content.decode()


def test_a_zip_cannot_write_outside_its_folder(tmp_path):
    import zipfile

    from onboarding.uploads import UploadError, unpack

    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("onboard.yaml", "layers: {}")
        z.writestr("../../escaped.txt", "x")
    with pytest.raises(UploadError, match="unsafe path"):
        unpack(path, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out").exists()


def test_a_line_digitised_twice_is_snapped_and_a_real_overlap_is_not(tmp_path):
    """Two communities whose shared edge was digitised 0.2 m apart (a hairline overlap along 2 km) are
    snapped onto one line; the report says so and finds no overlap."""
    unit = {"geometry": "Polygon", "properties": {"code": "str", "name": "str"}}
    outline = box(X0, Y0, X0 + W, Y0 + H)
    _write(tmp_path / "city.geojson", unit, [(outline, {"code": "990200", "name": "明川市"})])
    _write(tmp_path / "district.geojson", unit, [(outline, {"code": "990201", "name": "明川区"})])
    _write(tmp_path / "street.geojson", unit, [(outline, {"code": "990201001", "name": "东湖街道"})])
    half = X0 + W / 2
    step = [Y0 + H * k / 20 for k in range(21)]  # the shared edge has a vertex every 110 m
    west = Polygon([(X0, Y0), *[(half, y) for y in step], (X0, Y0 + H)])
    east = Polygon([(X0 + W, Y0), (X0 + W, Y0 + H), *[(half - 2.6e-6, y) for y in reversed(step)]])
    _write(
        tmp_path / "communities.geojson",
        unit,
        [
            (west, {"code": "990201001001", "name": "西湖社区"}),
            (east, {"code": "990201001002", "name": "东岸社区"}),
        ],
    )
    (tmp_path / "onboard.yaml").write_text(
        "layers:\n  admin-units: [city.geojson, district.geojson, street.geojson, communities.geojson]\n",
        encoding="utf-8",
    )
    report = onboard(tmp_path)
    admin = report["layers"]["admin-units"]
    assert [(r["file"], r["row"]) for r in admin["repaired"]] == [("communities.geojson", 2)]
    assert "snapped" in admin["repaired"][0]["how"] and admin["loadable"] == 5
    assert report["checks"]["communities_overlap"]["count"] == 0
    assert report["checks"]["communities_gap"]["count"] == 0
