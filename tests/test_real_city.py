"""The grid drawing assistant on a real place: Shanghai's Bund and Lujiazui (fixtures/real/, OSM, ODbL).

Real roads are not citygen's lattice: dual carriageways, slip roads, dead ends, roads crossing the
Huangpu by bridge, pieces joined back from vector tiles.  Four made-up communities (the quarters of the
extract's bounding box; households from footprint area and storeys) are cut into faces and grouped,
without a database: the grids must tile each community without gap or overlap, each be one piece, and
come near the target.
"""

from __future__ import annotations

from pathlib import Path

import fiona
import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from boundaries.faces import Buildings, community_faces
from boundaries.geometry import Metric, polygons
from boundaries.grouping import partition

EXTRACT = Path(__file__).resolve().parent.parent / "fixtures" / "real" / "shanghai_bund.gpkg"
BBOX = (121.4813, 31.2269, 121.5198, 31.2504)
TARGET = 300
METRIC = Metric(4554, 31.24)  # CGCS2000 3-degree zone, CM 120°E … (only the latitude matters here)


def _read(layer: str) -> list[tuple]:
    with fiona.open(EXTRACT, layer=layer) as src:
        return [(shape(f["geometry"]), dict(f["properties"])) for f in src]


@pytest.fixture(scope="module")
def city():
    roads = [g for g, _ in _read("roads")]
    water = [g.boundary for g, _ in _read("water")]
    buildings = _read("buildings")
    return roads + water, buildings


def test_the_extract_is_whole_roads_with_chinese_names(city):
    roads = _read("roads")
    ids = [p["osm_id"] for _, p in roads]
    assert len(ids) == len(set(ids)) > 500  # one feature per OSM way, tile pieces joined
    major = [p for _, p in roads if p["kind"] == "major_road"]
    assert sum(1 for p in major if any("\u4e00" <= ch <= "\u9fff" for ch in p["name"])) >= 0.9 * len(major)
    minx, miny, maxx, maxy = shapely.union_all([g for g, _ in roads]).bounds
    assert BBOX[0] - 0.01 < minx and maxx < BBOX[2] + 0.01 and BBOX[1] - 0.01 < miny and maxy < BBOX[3] + 0.01
    assert (EXTRACT.parent / "README.md").read_text(encoding="utf-8").count("OpenStreetMap contributors")


@pytest.mark.parametrize("quarter", range(4))
def test_grids_drawn_along_real_roads_tile_their_community(city, quarter):
    lines, buildings = city
    minx, miny, maxx, maxy = BBOX
    mx, my = (minx + maxx) / 2, (miny + maxy) / 2
    community = [
        shapely.box(minx, miny, mx, my),
        shapely.box(mx, miny, maxx, my),
        shapely.box(minx, my, mx, maxy),
        shapely.box(mx, my, maxx, maxy),
    ][quarter]
    inside = [(g, p) for g, p in buildings if community.contains(g.representative_point())]
    points = np.array([[g.representative_point().x, g.representative_point().y] for g, _ in inside])
    storeys = [max(1, round((p["height"] or 9) / 3)) for _, p in inside]
    # synthetic households, one per 900 m² of floor area: the Bund and Lujiazui are mostly offices,
    # hotels and towers; a tower of a thousand households cannot be split, hence the looser bound below
    floor_area = [METRIC.area(g) * s for (g, _), s in zip(inside, storeys, strict=True)]
    households = np.array([max(1, int(a / 900)) for a in floor_area])
    faces = community_faces(
        community, lines, Buildings(points, households.astype(float), [g for g, _ in inside]), TARGET, METRIC
    )
    groups = partition(faces.graph, TARGET)
    shapes = [shapely.union_all([q for n in group for q in faces.shapes[n]]) for group in groups]
    union = shapely.union_all(shapes)
    assert METRIC.area(community.symmetric_difference(union)) < 0.01  # no gap, nothing outside
    assert sum(METRIC.area(s) for s in shapes) - METRIC.area(union) < 0.01  # no overlap
    assert all(len(polygons(s)) == 1 for s in shapes)  # every grid one piece
    assert sorted(n for g in groups for n in g) == list(range(len(faces.households)))
    weights = [sum(faces.households[n] for n in g) for g in groups]
    assert sum(weights) == int(households.sum())
    near = sum(1 for w in weights if abs(w - TARGET) <= 0.2 * TARGET)
    assert near >= 0.6 * len(groups), sorted(weights)  # real towers cannot be split: a looser bound
