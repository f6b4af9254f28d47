"""Invariants of the demo city: codes, seamless partitions, buildings in grids, counts, fake identities."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection

from cases.models import Case
from fixtures.citygen import generate
from fixtures.citygen.city import case_clock
from fixtures.citygen.people import FAKE_REGION, is_valid_id_number
from layers.models import AdminUnit, Building, Grid, HouseUnit, Resident

pytestmark = pytest.mark.django_db
TOLERANCE_M2 = 0.01  # gaps and overlaps are measured in EPSG:4551 (CGCS2000 GK, CM 126°E)


def sql(query: str, params: tuple = ()) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def test_counts_are_in_the_demo_ranges():
    levels = dict(sql("select level, count(*) from layers_adminunit group by level"))
    assert levels["city"] == 1 and levels["district"] == 1
    assert 8 <= levels["street"] <= 10
    assert 30 <= levels["community"] <= 50
    community_grids = Grid.objects.current().filter(net__code__in=["comprehensive", "dedicated"]).count()
    assert 200 <= community_grids <= 300
    assert Grid.objects.current().filter(net__code="dedicated").count() >= 5
    assert 7_000 <= Building.objects.count() <= 13_000
    assert 80_000 <= HouseUnit.objects.count() <= 130_000
    assert 4_500 <= Case.objects.count() <= 5_500


def test_grid_codes_follow_the_standard():
    rows = sql(
        """select n.code, g.code, a.code, d.code from layers_grid g join layers_net n on n.id = g.net_id
           left join layers_adminunit a on a.id = g.community_id
           join layers_adminunit d on d.id = g.district_id"""
    )
    assert rows
    codes = [r[1] for r in rows]
    assert len(codes) == len(set(codes)), "grid codes must be unique"
    for net, code, community, district in rows:
        if net in ("comprehensive", "dedicated"):
            assert re.fullmatch(r"\d{15}", code), code
            assert code.startswith(community)
        else:
            assert code.startswith(district) and community is None
    # sequences inside a community are 001..n without holes
    for community, seqs in sql(
        "select community_id, array_agg(right(code, 3)::int order by code) from layers_grid "
        "where community_id is not null group by 1"
    ):
        assert seqs == list(range(1, len(seqs) + 1)), community


def test_admin_codes_nest():
    for unit in AdminUnit.objects.select_related("parent").exclude(level="city"):
        length = {"district": 6, "street": 9, "community": 12}[unit.level]
        assert len(unit.code) == length and unit.code.isdigit()
        if unit.level != "district":
            assert unit.code.startswith(unit.parent.code)
        else:
            assert unit.code[:4] == unit.parent.code[:4]


def test_first_grid_lies_in_the_north_west_band():
    # Sequence 001 is the first in reading order: no grid of the community lies clearly north of it.
    rows = sql(
        """select g.community_id,
                  max(st_y(st_pointonsurface(g.geom))) filter (where right(g.code, 3) = '001'),
                  max(st_ymax(g.geom)), max(st_ymax(g.geom) - st_ymin(g.geom))
           from layers_grid g where g.community_id is not null group by 1"""
    )
    for _community, first_y, top, height in rows:
        assert top - first_y <= height * 1.5


def test_community_grids_partition_each_community():
    rows = sql(
        """with c as (
             select a.code, st_transform(a.geom, 4551) cg,
                    (select st_union(st_transform(g.geom, 4551)) from layers_grid g
                      join layers_net n on n.id = g.net_id
                      where g.community_id = a.id and n.partition_group = 'community') ug,
                    (select sum(st_area(st_transform(g.geom, 4551))) from layers_grid g
                      join layers_net n on n.id = g.net_id
                      where g.community_id = a.id and n.partition_group = 'community') sa
             from layers_adminunit a where a.level = 'community')
           select code, st_area(st_symdifference(cg, ug)), sa - st_area(ug) from c"""
    )
    assert len(rows) >= 30
    for code, gap, overlap in rows:
        assert gap < TOLERANCE_M2, f"community {code}: {gap} m² not covered exactly"
        assert overlap < TOLERANCE_M2, f"community {code}: grids overlap by {overlap} m²"


@pytest.mark.parametrize("net", ["police", "mediation"])
def test_overlay_nets_partition_the_district(net):
    gap, overlap, crossing = sql(
        """with d as (select id, st_transform(geom, 4551) g from layers_adminunit where level = 'district'),
                n as (select g.district_id, st_transform(g.geom, 4551) g from layers_grid g
                      join layers_net n on n.id = g.net_id where n.code = %s)
           select st_area(st_symdifference(d.g, (select st_union(g) from n))),
                  (select sum(st_area(g)) from n) - st_area((select st_union(g) from n)),
                  -- overlay grids do not follow community lines: some cross one
                  (select count(*) from layers_grid g join layers_net nn on nn.id = g.net_id
                   where nn.code = %s and exists (
                     select 1 from layers_adminunit a where a.level = 'community'
                     and st_overlaps(a.geom, g.geom)))
           from d""",
        (net, net),
    )[0]
    assert gap < TOLERANCE_M2 and overlap < TOLERANCE_M2
    assert crossing > 0


def test_every_building_lies_in_exactly_one_grid_of_each_net_group():
    bad = sql(
        """select b.id, n.partition_group, count(g.id)
           from layers_building b cross join (select distinct partition_group from layers_net) n
           left join layers_grid g on st_contains(g.geom, b.point)
                and g.net_id in (select id from layers_net where partition_group = n.partition_group)
           group by 1, 2 having count(g.id) <> 1 limit 5"""
    )
    assert bad == []


def test_building_grid_code_is_the_grid_holding_it():
    mismatched = sql(
        """select count(*) from layers_building b where not exists (
             select 1 from layers_grid g join layers_net n on n.id = g.net_id
             where n.partition_group = 'community' and g.code = b.grid_code
               and st_contains(g.geom, b.geom))"""
    )[0][0]
    assert mismatched == 0


def test_mercator_copies_are_kept_by_the_database():
    grid = Grid.objects.first()
    diff = sql(
        "select st_hausdorffdistance(geom_3857, st_transform(geom, 3857)) from layers_grid where id = %s",
        (grid.pk,),
    )[0][0]
    assert diff == 0
    # editing the canonical geometry updates the copy
    sql("update layers_grid set geom = st_multi(st_buffer(geom, 0.001)) where id = %s", (grid.pk,))
    assert sql(
        "select st_equals(geom_3857, st_transform(geom, 3857)) from layers_grid where id = %s", (grid.pk,)
    )[0][0]


def test_residents_are_fake_and_sensitive_fields_are_complete():
    sample = list(Resident.objects.order_by("?")[:500].values_list("id_number", "phone"))
    assert len(sample) == 500
    for id_number, phone in sample:
        assert id_number.startswith(FAKE_REGION) and is_valid_id_number(id_number)
        assert phone.startswith("100") and len(phone) == 11
    assert Resident.objects.filter(tags__contains=["elderly_alone"]).exists()


def test_addresses_are_standard_strings_district_first():
    district = AdminUnit.objects.get(level="district").name
    for b in Building.objects.select_related("community", "community__parent")[:200]:
        assert b.address.startswith(district + b.community.parent.name + b.community.name)
        assert b.road_name in b.address and f"{b.door_number}号" in b.address


def test_database_sees_chinese_trigrams():
    # With a C ctype pg_trgm drops every Chinese character and all names look alike.
    ctype, trigrams, same, other = sql(
        "select current_setting('lc_ctype'), show_trgm('学士街'), similarity('学士街', '学士街'), "
        "similarity('学士街', '和平路')"
    )[0]
    assert "UTF-8" in ctype.upper().replace("UTF8", "UTF-8")
    assert len(trigrams) >= 3 and same == 1 and other < 0.2


def test_generator_is_deterministic():
    a = generate("tiny", seed=7)
    b = generate("tiny", seed=7)
    c = generate("tiny", seed=8)
    key = lambda d: [(r[1], r[-1].wkt) for r in d.tables["layers_grid"][1]]  # noqa: E731
    assert key(a) == key(b)
    assert key(a) != key(c)


def test_healthz_reports_the_city(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["postgis"].startswith("3.")
    assert body["counts"]["grids"] > 200 and body["counts"]["buildings"] > 7000


def test_a_year_of_cases_none_in_the_future():
    first, last, unplaced = sql(
        "select min(reported_at), max(reported_at), count(*) filter (where grid_code = '') from cases_case"
    )[0]
    from django.utils import timezone

    assert last <= timezone.now()
    assert (last - first).days >= 300
    assert unplaced == 0


# now, a Monday, a Wednesday
@pytest.mark.parametrize("as_of", [None, dt.date(2026, 12, 7), dt.date(2026, 12, 9)])
def test_the_lights_look_like_a_working_centre_when_loaded(as_of):
    """At the moment the demo is loaded most open cases are on time (a real centre closes 96-99 % on
    time): a few red, never the sea of red that a year cut at midnight and a weekend backlog gave."""
    city = generate("demo", seed=1, as_of=as_of)
    _as_of, now = case_clock(as_of)
    columns, rows = city.tables["cases_case"]
    status, deadline = columns.index("status"), columns.index("deadline")
    open_cases = [r for r in rows if r[status] not in ("closed", "evaluated", "rejected")]
    red = [r for r in open_cases if r[deadline] is not None and r[deadline] < now]
    assert len(open_cases) >= 50
    assert 1 <= len(red) <= 0.15 * len(open_cases), (len(red), len(open_cases))
