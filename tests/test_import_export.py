"""import_layer / export_layer against the demo city: formats, CRSs, encodings, round trips, bad input.

Every test runs inside the suite's rolled-back transaction (`db`), so imports never leak into other tests.
Files are read back with fiona (or made by hand with it) rather than through the code under test, and
expected coordinates come from pyproj directly, so a swapped axis or a wrong encoding shows up here.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from io import StringIO
from itertools import islice
from pathlib import Path

import fiona
import pytest
import shapely
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Max
from fiona.crs import CRS
from pyproj import Transformer
from shapely.geometry import shape

from layers.models import AdminUnit, Building, Grid, Road
from layers.registry import LAYERS

pytestmark = pytest.mark.usefixtures("db")

ROOT = Path(__file__).resolve().parent.parent
EXT = {"GPKG": ".gpkg", "GeoJSON": ".geojson", "ESRI Shapefile": ".shp"}
# The documented shapefile names of the properties longer than 10 characters (docs/import-export.md).
SHORT_NAMES = {
    "parent_code": "parent_cd",
    "community_code": "comm_code",
    "target_households": "target_hh",
    "door_number": "door_no",
    "building_number": "bldg_no",
    "category_name": "cat_name",
    "reported_at": "reported",
}
TO_GK = Transformer.from_crs("EPSG:4490", "EPSG:4547", always_xy=True)
FROM_GK = Transformer.from_crs("EPSG:4547", "EPSG:4490", always_xy=True)


def run(command: str, *args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(command, *args, "--quiet", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def export(layer_id: str, path: Path, *args: str) -> Path:
    run("export_layer", layer_id, str(path), *args)
    return path


def write_file(
    path: Path,
    geometry: str,
    properties: dict[str, str],
    features: list[tuple[dict | None, dict]],
    crs: str | None = "EPSG:4490",
    encoding: str | None = None,
) -> Path:
    """A file made the way a third-party tool would, independent of our exporter."""
    kwargs = {
        "driver": {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON"}[path.suffix],
        "schema": {"geometry": geometry, "properties": properties},
    }
    if crs:
        kwargs["crs"] = CRS.from_user_input(crs)
    if encoding:
        kwargs["encoding"] = encoding
    with fiona.open(path, "w", **kwargs) as dst:
        for geom, props in features:
            dst.write({"geometry": geom, "properties": props})
    return path


def expected_columns(layer_id: str, driver: str) -> set[str]:
    props = ["id", *LAYERS[layer_id].properties]
    if driver == "ESRI Shapefile":
        return {SHORT_NAMES.get(p, p) for p in props}
    return set(props)


def same(db_value, file_value, driver: str) -> bool:
    """Datetimes come back from every format as ISO 8601 text with the offset."""
    if driver == "ESRI Shapefile" and db_value == "":
        return file_value is None  # DBF cannot tell an empty string from NULL
    if isinstance(db_value, dt.datetime):
        return dt.datetime.fromisoformat(file_value) == db_value
    return db_value == file_value


def same_shape(a, b, tolerance: float = 1e-9) -> bool:
    """Shapefiles read back single-part Polygons and reorient rings; GeoJSON keeps 15 significant digits."""

    def canon(g):
        if g.geom_type in ("Polygon", "LineString"):
            g = shapely.multipolygons([g]) if g.geom_type == "Polygon" else shapely.multilinestrings([g])
        return shapely.normalize(g)

    return canon(a).equals_exact(canon(b), tolerance)


def a_building_point() -> tuple[float, float]:
    """lon/lat inside a comprehensive grid (an existing building's point-on-surface)."""
    codes = Grid.objects.current().filter(net__code="comprehensive").values_list("code", flat=True)
    b = Building.objects.filter(grid_code__in=list(codes)).order_by("pk").first()
    return b.point.x, b.point.y


def square(lon: float, lat: float, half_m: float = 3.0) -> dict:
    """A small footprint around lon/lat, drawn in EPSG:4490 degrees."""
    x, y = TO_GK.transform(lon, lat)
    ring = [
        FROM_GK.transform(x + dx, y + dy)
        for dx, dy in (
            (-half_m, -half_m),
            (half_m, -half_m),
            (half_m, half_m),
            (-half_m, half_m),
            (-half_m, -half_m),
        )
    ]
    return {"type": "Polygon", "coordinates": [ring]}


BUILDING_SCHEMA = {"road": "str:32", "door_no": "str:16", "use": "str:16", "floors": "int"}


def good_building(lon: float, lat: float, door: str) -> tuple[dict, dict]:
    return square(lon, lat), {"road": "测试路", "door_no": door, "use": "residential", "floors": 3}


# -------------------------------------------------------------------------------------------- export
CASES = [(layer_id, "GPKG") for layer_id in LAYERS] + [
    (layer_id, driver)
    for layer_id in ("grids", "roads", "service-stations", "cases")
    for driver in ("GeoJSON", "ESRI Shapefile")
]


@pytest.mark.parametrize("layer_id,driver", CASES)
def test_export_reads_back_with_fiona(layer_id, driver, tmp_path):
    spec = LAYERS[layer_id]
    path = export(layer_id, tmp_path / f"out{EXT[driver]}", "--format", driver)
    with fiona.open(path) as src:
        assert src.driver == driver
        assert len(src) == spec.all_rows().count() > 0
        assert set(src.schema["properties"]) == expected_columns(layer_id, driver)
        assert all(len(name) <= 10 for name in src.schema["properties"]) or driver != "ESRI Shapefile"
        assert src.crs.to_epsg() == 4490
        sample = {f.properties["id"]: f for f in islice(src, 40)}
    names = {p: SHORT_NAMES.get(p, p) if driver == "ESRI Shapefile" else p for p in spec.properties}
    rows = spec.all_rows().filter(pk__in=sample).values("pk", "geom", *spec.properties.values())
    assert len(rows) == len(sample)
    for row in rows:
        feature = sample[row["pk"]]
        for prop, lookup in spec.properties.items():
            assert same(row[lookup], feature.properties[names[prop]], driver), (prop, row[lookup])
        assert same_shape(shape(feature.geometry), shapely.from_wkb(bytes(row["geom"].wkb)))


def test_export_reprojects_and_filters(tmp_path):
    path = export("grids", tmp_path / "grids.gpkg", "--crs", "EPSG:4547", "--where", "net=comprehensive")
    expected = Grid.objects.current().filter(net__code="comprehensive")
    with fiona.open(path) as src:
        assert src.crs.to_epsg() == 4547
        assert len(src) == expected.count() > 0
        features = list(src)
    assert {f.properties["net"] for f in features} == {"comprehensive"}
    grid = expected.get(pk=features[0].properties["id"])
    lon, lat = grid.geom.coords[0][0][0]
    x, y = TO_GK.transform(lon, lat)
    fx, fy = features[0].geometry.coordinates[0][0][0]
    assert abs(fx - x) < 1e-3 and abs(fy - y) < 1e-3  # metres
    assert 1_000_000 < fx < 2_000_000  # 12° east of CM 114E: a far-off, but well-defined, easting


def test_export_shapefile_writes_cpg_and_encodes_gbk(tmp_path):
    community = Building.objects.order_by("community__code").values_list("community__code", flat=True).first()
    utf8 = export("buildings", tmp_path / "utf8.shp", "--where", f"community_code={community}")
    gbk = export(
        "buildings", tmp_path / "gbk.shp", "--where", f"community_code={community}", "--encoding", "GBK"
    )
    assert utf8.with_suffix(".cpg").read_text() == "UTF-8"
    assert gbk.with_suffix(".cpg").read_text() == "GBK"
    with fiona.open(gbk, encoding="latin-1") as src:  # raw bytes, whatever the .cpg says
        raw = {f.properties["id"]: f.properties["address"].encode("latin-1") for f in src}
    addresses = dict(Building.objects.filter(pk__in=raw).values_list("pk", "address"))
    assert len(addresses) == len(raw) > 0
    for pk, data in raw.items():
        assert data.decode("gbk") == addresses[pk]
        assert data != addresses[pk].encode("utf-8")


def test_export_refuses_bad_requests(tmp_path):
    with pytest.raises(CommandError, match="already exists"):
        export("water", tmp_path / "w.gpkg")
        export("water", tmp_path / "w.gpkg")
    with pytest.raises(CommandError, match="properties"):
        export("grids", tmp_path / "g.gpkg", "--where", "no_such=1")
    with pytest.raises(CommandError, match="unknown CRS"):
        export("grids", tmp_path / "g2.gpkg", "--crs", "EPSG:999999")
    with pytest.raises(CommandError, match="cannot tell the format"):
        export("grids", tmp_path / "g.txt")


def test_ogrinfo_reads_the_exported_geopackage(tmp_path):
    path = export("buildings", tmp_path / "buildings.gpkg")
    out = subprocess.run(
        ["ogrinfo", "-ro", "-so", str(path), "buildings"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert f"Feature Count: {Building.objects.count()}" in out.stdout
    assert 'ID["EPSG",4490]' in out.stdout
    assert re.search(r"^door_number: String", out.stdout, re.M)


# -------------------------------------------------------------------------------------- round trips
def building_signature(qs) -> list[tuple]:
    return sorted(
        (
            b.address,
            b.use,
            b.floors,
            b.road_name,
            b.road_id,
            b.door_number,
            b.estate,
            b.building_number,
            b.grid_code,
            b.community_id,
            shapely.to_wkt(shapely.normalize(shapely.from_wkb(bytes(b.geom.wkb))), rounding_precision=9),
        )
        for b in qs
    )


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_buildings_round_trip(suffix, tmp_path):
    community = Building.objects.order_by("community__code").values_list("community__code", flat=True).first()
    last = Building.objects.aggregate(m=Max("pk"))["m"]
    original = Building.objects.filter(community__code=community, pk__lte=last)
    path = export("buildings", tmp_path / f"b{suffix}", "--where", f"community_code={community}")
    out = run("import_layer", "buildings", str(path))
    imported = Building.objects.filter(pk__gt=last)
    assert imported.count() == original.count() > 0, out
    assert building_signature(imported) == building_signature(original)


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_roads_round_trip(suffix, tmp_path):
    last = Road.objects.aggregate(m=Max("pk"))["m"]
    original = Road.objects.filter(pk__lte=last)
    assert original.filter(kind="alley").exists()
    path = export("roads", tmp_path / f"r{suffix}")
    run("import_layer", "roads", str(path))

    def signature(qs):
        return sorted(
            (
                r.name,
                r.kind,
                r.district_id,
                shapely.to_wkt(shapely.from_wkb(bytes(r.geom.wkb)), rounding_precision=9),
            )
            for r in qs
        )

    assert signature(Road.objects.filter(pk__gt=last)) == signature(original) != []


def test_roads_replace_relinks_buildings(tmp_path):
    path = export("roads", tmp_path / "arterial.gpkg", "--where", "kind=arterial")
    arterial = set(Road.objects.filter(kind="arterial").values_list("name", flat=True))
    on_arterials = Building.objects.filter(road_name__in=arterial).count()
    assert on_arterials > 0
    run("import_layer", "roads", str(path), "--replace")
    assert Road.objects.count() == len(arterial)
    linked = Building.objects.filter(road__isnull=False)
    assert linked.count() == on_arterials
    assert all(b.road.name == b.road_name for b in linked.select_related("road")[:200])


def test_admin_units_replace_updates_in_place(tmp_path):
    path = export("admin-units", tmp_path / "admin.geojson")
    with fiona.open(path) as src:
        schema, crs, features = src.schema, src.crs, list(src)
    target = next(f for f in features if f.properties["level"] == "community")
    renamed = tmp_path / "renamed.geojson"
    with fiona.open(renamed, "w", driver="GeoJSON", schema=schema, crs=crs) as dst:
        for f in features:
            props = dict(f.properties)
            if f.properties["code"] == target.properties["code"]:
                props["name"] = "改名社区"
            dst.write({"geometry": f.geometry, "properties": props})
    count = AdminUnit.objects.count()
    with pytest.raises(CommandError, match="already exists"):
        run("import_layer", "admin-units", str(renamed))
    run("import_layer", "admin-units", str(renamed), "--replace")
    assert AdminUnit.objects.count() == count
    assert AdminUnit.objects.get(code=target.properties["code"]).name == "改名社区"


def test_admin_units_take_parents_from_the_file(tmp_path):
    lon, lat = a_building_point()
    district = AdminUnit.objects.get(level="district", geom__contains=Point(lon, lat, srid=4490))
    features = [
        (square(lon, lat, 50), {"code": f"{district.code}099", "name": "新设街道", "level": None}),
        (square(lon, lat, 20), {"code": f"{district.code}099001", "name": "新设社区", "level": None}),
        (square(lon, lat, 50), {"code": f"{district.code}098", "name": "", "level": None}),
        (square(lon, lat, 20), {"code": f"{district.code}098201", "name": "新设村", "level": None}),
    ]
    path = write_file(
        tmp_path / "units.geojson", "Polygon", {"code": "str", "name": "str", "level": "str"}, features
    )
    count = AdminUnit.objects.count()
    with pytest.raises(CommandError) as err:
        run("import_layer", "admin-units", str(path))
    assert "feature 3 " in str(err.value) and "missing required attribute 'name'" in str(err.value)
    assert "feature 4 " in str(err.value) and "its parent (feature 3) is bad" in str(err.value)
    assert AdminUnit.objects.count() == count
    run("import_layer", "admin-units", str(path), "--skip-invalid")
    assert AdminUnit.objects.count() == count + 2
    community = AdminUnit.objects.get(code=f"{district.code}099001")
    assert (community.level, community.rural, community.parent.code, community.parent.parent) == (
        "community",
        False,
        f"{district.code}099",
        district,
    )


def test_grids_import_into_a_net_with_replace(tmp_path):
    path = export("grids", tmp_path / "police.shp", "--where", "net=police")
    police = Grid.objects.current().filter(net__code="police")
    before = sorted(police.values_list("code", "district_id", "kind"))
    with pytest.raises(CommandError, match="already in the current generation"):
        run("import_layer", "grids", str(path), "--net", "police")
    run("import_layer", "grids", str(path), "--net", "police", "--replace")
    assert sorted(police.values_list("code", "district_id", "kind")) == before
    assert Grid.objects.filter(net__code="police").count() == len(before)  # replaced, not added


def test_grid_codes_are_validated(tmp_path):
    communities = AdminUnit.objects.annotate(n=Count("grids")).filter(level="community", n__gte=2)
    community = communities.order_by("code")[0]
    path = export(
        "grids",
        tmp_path / "g.geojson",
        "--where",
        f"community_code={community.code}",
        "--where",
        "net=comprehensive",
    )
    with fiona.open(path) as src:
        schema, crs, features = src.schema, src.crs, list(src)
    other = AdminUnit.objects.filter(level="community").exclude(pk=community.pk).order_by("code").first()
    bad = tmp_path / "bad.geojson"
    with fiona.open(bad, "w", driver="GeoJSON", schema=schema, crs=crs) as dst:
        for i, f in enumerate(features):
            props = dict(f.properties, community_code=None)
            props["code"] = {0: community.code + "99", 1: other.code + "901"}.get(i, props["code"])
            dst.write({"geometry": f.geometry, "properties": props})
    with pytest.raises(CommandError) as err:
        run("import_layer", "grids", str(bad), "--net", "comprehensive", "--replace")
    message = str(err.value)
    assert "feature 1 " in message and "15 digits" in message
    assert "feature 2 " in message and "outside its community" in message
    assert f"2 of {len(features)} features are bad" in message


# ------------------------------------------------------------------ third-party files, GBK, CGCS2000 GK
def test_gbk_shapefile_in_gauss_kruger_imports_text_and_coordinates(tmp_path):
    lon, lat = a_building_point()
    x, y = TO_GK.transform(lon, lat)
    ring = [(x - 4, y - 4), (x + 4, y - 4), (x + 4, y + 4), (x - 4, y + 4), (x - 4, y - 4)]
    path = write_file(
        tmp_path / "楼栋.shp",
        "Polygon",
        {"街路巷": "str:20", "门牌号": "str:10", "用途": "str:10", "小区": "str:20", "楼栋号": "str:10"},
        [
            (
                {"type": "Polygon", "coordinates": [ring]},
                {"街路巷": "学府路", "门牌号": "33", "用途": "住宅", "小区": "丽景华庭", "楼栋号": "3"},
            )
        ],
        crs="EPSG:4547",
        encoding="GBK",
    )
    assert path.with_suffix(".cpg").read_text().strip().upper() == "GBK"
    assert "学府路".encode("gbk") in path.with_suffix(".dbf").read_bytes()
    last = Building.objects.aggregate(m=Max("pk"))["m"]
    run("import_layer", "buildings", str(path))
    b = Building.objects.get(pk__gt=last)
    assert (b.road_name, b.door_number, b.use, b.estate, b.building_number) == (
        "学府路",
        "33",
        "residential",
        "丽景华庭",
        "3",
    )
    assert b.address.startswith(AdminUnit.objects.get(code=b.community.code[:6]).name)
    assert b.address.endswith("学府路33号丽景华庭3号楼")
    # the corner (x-4, y-4) reprojected by pyproj, not by the code under test
    want = FROM_GK.transform(x - 4, y - 4)
    corners = list(b.geom.coords[0][0])
    assert min(abs(cx - want[0]) + abs(cy - want[1]) for cx, cy in corners) < 1e-6
    assert abs(b.point.x - lon) < 1e-4 and abs(b.point.y - lat) < 1e-4
    # community and grid derived from the location, as the database would
    assert b.community.geom.contains(b.point) and b.community.level == "community"
    grid = Grid.objects.current().filter(net__code="comprehensive", geom__contains=b.point).get()
    assert b.grid_code == grid.code


def test_shapefile_encoding_from_cpg_guess_and_override(tmp_path):
    lon, lat = a_building_point()
    features = [(square(lon, lat), {"road": "滨河路", "door_no": "8", "use": "商铺", "floors": 2})]
    path = write_file(tmp_path / "b.shp", "Polygon", BUILDING_SCHEMA, features, encoding="GBK")
    path.with_suffix(".cpg").unlink()  # no .cpg: GBK is guessed because the bytes are not UTF-8
    last = Building.objects.aggregate(m=Max("pk"))["m"]
    run("import_layer", "buildings", str(path), "--dry-run")
    path.with_suffix(".cpg").write_text("UTF-8")  # a lying .cpg
    with pytest.raises(CommandError, match="cannot be decoded as utf-8"):
        run("import_layer", "buildings", str(path))
    run("import_layer", "buildings", str(path), "--encoding", "GBK")
    b = Building.objects.get(pk__gt=last)
    assert (b.road_name, b.use, b.floors) == ("滨河路", "shop", 2)


def test_one_bad_feature_rejects_the_whole_file(tmp_path):
    lon, lat = a_building_point()
    bowtie = square(lon, lat)
    ring = bowtie["coordinates"][0]
    bowtie["coordinates"] = [[ring[0], ring[2], ring[1], ring[3], ring[0]]]  # self-intersecting
    missing = good_building(lon, lat, "2")
    missing[1]["door_no"] = ""
    features = [
        good_building(lon, lat, "1"),
        (bowtie, good_building(lon, lat, "3")[1]),
        missing,
        good_building(lon, lat, "4"),
    ]
    path = write_file(tmp_path / "bad.geojson", "Polygon", BUILDING_SCHEMA, features)
    count = Building.objects.count()
    with pytest.raises(CommandError) as err:
        run("import_layer", "buildings", str(path))
    message = str(err.value)
    assert "feature 2 " in message and "Self-intersection" in message
    assert "feature 3 " in message and "missing required attribute 'door_number'" in message
    assert "feature 1 " not in message and "feature 4 " not in message
    assert "nothing was written" in message
    assert Building.objects.count() == count
    out = run("import_layer", "buildings", str(path), "--skip-invalid")
    assert Building.objects.count() == count + 2
    assert "skipped 2 bad features" in out


def test_bad_geometries_and_places_are_named(tmp_path):
    lon, lat = a_building_point()
    far = square(lon + 5, lat)  # 400 km east of the demo city
    features = [(far, good_building(lon, lat, "1")[1]), (None, good_building(lon, lat, "2")[1])]
    path = write_file(tmp_path / "b.gpkg", "Polygon", BUILDING_SCHEMA, features)
    with pytest.raises(CommandError) as err:
        run("import_layer", "buildings", str(path))
    assert "feature 1 (fid 1" in str(err.value) and "outside the city" in str(err.value)
    assert "feature 2 (fid 2" in str(err.value) and "missing geometry" in str(err.value)
    points = write_file(
        tmp_path / "p.geojson",
        "Point",
        BUILDING_SCHEMA,
        [({"type": "Point", "coordinates": (lon, lat)}, good_building(lon, lat, "1")[1])],
    )
    with pytest.raises(CommandError, match="wrong geometry type Point"):
        run("import_layer", "buildings", str(points))
    bad_value = write_file(
        tmp_path / "v.geojson",
        "Polygon",
        BUILDING_SCHEMA,
        [(square(lon, lat), dict(good_building(lon, lat, "1")[1], use="castle"))],
    )
    with pytest.raises(CommandError, match="use: .*not one of"):
        run("import_layer", "buildings", str(bad_value))


def test_a_file_without_crs_needs_crs(tmp_path):
    lon, lat = a_building_point()
    path = write_file(
        tmp_path / "nocrs.shp", "Polygon", BUILDING_SCHEMA, [good_building(lon, lat, "1")], crs=None
    )
    assert not path.with_suffix(".prj").exists()
    count = Building.objects.count()
    with pytest.raises(CommandError, match="declares no CRS.*--crs"):
        run("import_layer", "buildings", str(path))
    assert Building.objects.count() == count
    run("import_layer", "buildings", str(path), "--crs", "EPSG:4490")
    assert Building.objects.count() == count + 1


def test_import_refuses_unusable_files(tmp_path):
    with pytest.raises(CommandError, match="file not found"):
        run("import_layer", "roads", str(tmp_path / "missing.gpkg"))
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a geopackage")
    with pytest.raises(CommandError, match="cannot read"):
        run("import_layer", "roads", str(junk))
    lon, lat = a_building_point()
    no_columns = write_file(
        tmp_path / "x.geojson", "Polygon", {"foo": "str"}, [(square(lon, lat), {"foo": "x"})]
    )
    with pytest.raises(CommandError, match="lacks required columns: use, road, door_number"):
        run("import_layer", "buildings", str(no_columns))
    grids = export("grids", tmp_path / "g.geojson", "--where", "net=police")
    with pytest.raises(CommandError, match="no such net"):
        run("import_layer", "grids", str(grids), "--net", "nonsense")


def test_point_layers_import_with_derived_grid(tmp_path):
    lon, lat = a_building_point()
    path = write_file(
        tmp_path / "stations.geojson",
        "Point",
        {"name": "str", "kind": "str", "hours": "str", "is_public": "str"},
        [
            (
                {"type": "Point", "coordinates": (lon, lat)},
                {"name": "测试驿站", "kind": "网格驿站", "hours": "8:00-20:00", "is_public": "否"},
            )
        ],
    )
    run("import_layer", "service-stations", str(path))
    from layers.models import ServiceStation

    station = ServiceStation.objects.get(name="测试驿站")
    assert station.kind == "grid_station" and station.is_public is False
    grid = Grid.objects.current().get(net__code="comprehensive", geom__contains=station.geom)
    assert station.grid_code == grid.code


def test_documented_shapefile_names_match_the_code():
    from layers.io.fields import SHAPEFILE_NAMES, shapefile_names

    assert SHAPEFILE_NAMES == SHORT_NAMES
    doc = (ROOT / "docs" / "import-export.md").read_text(encoding="utf-8")
    for spec in LAYERS.values():
        names = shapefile_names(["id", *spec.properties])
        assert len(set(names.values())) == len(names)
        for prop, short in names.items():
            assert len(short) <= 10
            if short != prop:
                assert f"`{prop}` | `{short}`" in doc, prop
