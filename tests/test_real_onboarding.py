"""The real city (fixtures/real/: OSM roads and footprints of the Bund and Lujiazui, synthetic registers)
goes through `onboard` end to end, into a database that already holds the demo city: the dry run changes
nothing, --apply loads it and the grid assistant draws its grids, a second --apply changes nothing, and
what the report says is what the database holds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.db import connection

from cases.models import Case
from layers.models import Address, AdminUnit, Building, Grid, HouseUnit
from onboarding.models import Onboarding
from onboarding.run import onboard

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory) -> Path:
    from fixtures.real.folder import make_folder

    folder = tmp_path_factory.mktemp("real-city")
    make_folder(folder, seed=7, as_of=AS_OF)
    return folder


def _one(sql: str, params: list | None = None):
    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        return cur.fetchone()


def test_the_real_city_onboards_end_to_end(real_folder):
    counts = (AdminUnit.objects.count(), Building.objects.count(), Case.objects.count(), Grid.objects.count())
    dry = onboard(real_folder)
    assert (
        AdminUnit.objects.count(),
        Building.objects.count(),
        Case.objects.count(),
        Grid.objects.count(),
    ) == counts
    assert not AdminUnit.objects.filter(code__startswith="3101").exists() and not dry["applied"]
    layers = dry["layers"]
    # the GBK shapefiles in the Gauss-Kruger zone were read as such
    streets = next(f for f in layers["admin-units"]["files"] if f["file"] == "streets.shp")
    assert "4549" in streets["crs"] and "gbk" in streets["encoding"].lower()
    assert layers["buildings"]["read"] == 1321 and layers["buildings"]["loadable"] > 0.95 * 1321
    assert (
        dry["checks"]["communities_overlap"]["count"] == 0 and dry["checks"]["communities_gap"]["count"] == 0
    )
    assert dry["checks"]["cases_not_placed"]["count"] < 0.06 * layers["cases"]["read"]
    assert all(a.get("error") is None for a in dry["grids_drawn"]["areas"].values())

    applied = onboard(real_folder, apply=True)
    assert applied["applied"]
    for layer in ("admin-units", "buildings", "addresses", "house-units", "cases"):
        assert applied["layers"][layer]["loadable"] == dry["layers"][layer]["loadable"], layer
    communities = list(
        AdminUnit.objects.filter(code__startswith="3101", level="community").values_list("pk", flat=True)
    )
    ours = Building.objects.filter(community_id__in=communities)
    # the report's counts are what the database holds
    assert ours.count() == applied["layers"]["buildings"]["loadable"] == applied["counts"]["buildings"]
    assert Address.objects.filter(building__in=ours).count() == applied["layers"]["addresses"]["loadable"]
    assert HouseUnit.objects.filter(building__in=ours).count() == applied["layers"]["house-units"]["loadable"]
    onboarded = Case.objects.filter(idempotency_key__startswith=f"onboard:{applied['fingerprint'][:16]}:")
    assert onboarded.count() == applied["layers"]["cases"]["loadable"]
    assert (
        AdminUnit.objects.filter(code__startswith="3101").count()
        == applied["layers"]["admin-units"]["loadable"]
    )
    assert set(ours.values_list("source", flat=True)) == {"osm"}
    assert set(AdminUnit.objects.filter(code__startswith="3101").values_list("source", flat=True)) == {
        "synthetic"
    }
    assert ours.filter(address="").count() == 0

    current = Grid.objects.current().filter(net__code="comprehensive", community_id__in=communities)
    drawn = sum(a["grids"] for a in applied["grids_drawn"]["areas"].values())
    assert current.count() == drawn == applied["counts"]["grids"]["comprehensive"] > 100
    codes = list(current.values_list("code", "community__code"))
    assert len({c for c, _ in codes}) == len(codes) and all(
        c.startswith(cc) and len(c) == 15 for c, cc in codes
    )
    ids = list(current.values_list("pk", flat=True))
    # every building in exactly one grid, the one its grid_code names (a point on the extract's edge a
    # hair outside after reprojection: the nearest grid within ~1 m, as the importer does)
    (wrong,) = _one(
        """select count(*) from (
             select b.id, b.grid_code,
                    array_agg(g.code) filter (where st_contains(g.geom, b.point)) inside,
                    array_agg(g.code) filter (
                        where st_dwithin(g.geom::geography, b.point::geography, 1.5)) near
             from layers_building b
             left join layers_grid g on g.id = any(%s) and st_dwithin(g.geom, b.point, 1e-4)
             where b.community_id = any(%s) group by b.id) t
           where not (coalesce(inside, '{}') = array[grid_code]
                      or (inside is null and grid_code = any(coalesce(near, '{}'))))""",
        [ids, communities],
    )
    assert wrong == 0
    # the grids of each community tile it: no gap inside it, no overlap anywhere (m², on the spheroid);
    # at the extract's outer edge a grid may reach a few m² past the community line (validation's
    # tolerance for digitising noise), nowhere into another community
    gap, outside, area = _one(
        """select sum(st_area(st_difference(c.geom, u.g)::geography)),
                  sum(st_area(st_difference(u.g, c.geom)::geography)), sum(st_area(c.geom::geography))
           from layers_adminunit c cross join lateral (
               select st_union(geom) g from layers_grid where id = any(%s) and community_id = c.id) u
           where c.id = any(%s)""",
        [ids, communities],
    )
    (overlap,) = _one(
        """select coalesce(sum(st_area(st_intersection(a.geom, b.geom)::geography)), 0)
           from layers_grid a join layers_grid b on a.id < b.id and a.geom && b.geom
           where a.id = any(%s) and b.id = any(%s) and st_relate(a.geom, b.geom, '2********')""",
        [ids, ids],
    )
    assert gap < 1.0 and overlap < 1.0 and outside < 1e-5 * area, (gap, overlap, outside)
    (into_others,) = _one(
        """select count(*) from layers_grid g join layers_adminunit c on c.level = 'community'
             and c.id <> g.community_id and g.geom && c.geom
           where g.id = any(%s) and st_area(st_intersection(g.geom, c.geom)::geography) > 1""",
        [ids],
    )
    assert into_others == 0
    # cases are in their grid of every net
    placed = onboarded.exclude(geom=None)
    assert placed.count() >= 0.94 * onboarded.count()
    assert all(c.grid_code and c.grids.get("comprehensive") == c.grid_code for c in placed)

    again = onboard(real_folder, apply=True)
    assert again["already_applied"] and not again["applied"]
    assert ours.count() == applied["counts"]["buildings"] and Onboarding.objects.count() == 1
    assert Case.objects.filter(idempotency_key__startswith="onboard:").count() == onboarded.count()


def test_load_city_real_onboards_it_as_the_demo(client, tmp_path):
    """`./gis load-city --size real`: the loaded city replaced by the real one, its accounts, its map."""
    from fixtures.models import LoadedCity
    from fixtures.real.load import load_real

    report = load_real(seed=7, as_of=AS_OF, progress=False, folder=tmp_path / "real")
    assert report["applied"] and LoadedCity.objects.get().size == "real"
    assert not AdminUnit.objects.filter(code__startswith="99").exists()  # the demo city is gone
    # the map credits OpenStreetMap (the tile server asks which sources are loaded, as here)
    from tiles import documents

    (sources,) = _one("select array_agg(distinct source) from layers_building where source <> ''")
    assert sources == ["osm"]
    doc = documents.tilejson("http://x", ["buildings"], None, sources)
    assert "© OpenStreetMap contributors" in doc["attribution"]
    style = documents.style("http://x", "f", None, internal=False, data_sources=sources)
    assert all("OpenStreetMap" in src["attribution"] for src in style["sources"].values())
    assert "OpenStreetMap" not in documents.attribution([])
    # the dispatcher's jurisdiction is the city, the demo worker's a drawn grid
    assert client.login(username="dispatcher", password="onenet-demo")
    assert client.get("/api/cases?limit=1").status_code == 200
    # the situation map file (its own basemap from the OSM roads and footprints) carries the credit too
    grid = Grid.objects.current().filter(net__code="comprehensive").order_by("code").first()
    exported = client.get(f"/api/map/export/grid/{grid.code}.html")
    assert exported.status_code == 200 and "© OpenStreetMap contributors" in exported.content.decode()
    # residents for the house units (fake identity numbers), stations and party organisations in grids
    from fixtures.citygen.people import is_valid_id_number
    from layers.models import GridWorker, PartyOrganisation, Resident, ServiceStation

    assert report["counts"]["residents"] == Resident.objects.count() > 10 * AdminUnit.objects.count()
    assert all(
        is_valid_id_number(n) and n.startswith("99")
        for n in Resident.objects.values_list("id_number", flat=True)[:200]
    )
    assert ServiceStation.objects.count() > 10 and not ServiceStation.objects.filter(grid_code="").exists()
    assert (
        PartyOrganisation.objects.count() > 10 and not PartyOrganisation.objects.filter(grid_code="").exists()
    )
    worker = GridWorker.objects.get(user__username="worker")
    assert Grid.objects.current().filter(code=worker.grid_code).exists()
