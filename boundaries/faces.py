"""The faces a community's grids are made of: the blocks between its roads, alleys and rivers.

街巷定界 — grids are bounded by streets and alleys — so the candidate grid edges are the road centre
lines and water banks inside the community, plus the community line and the edges of its dedicated
grids.  Noded and polygonised (GEOS, through shapely) they cut the community into faces that tile it
exactly: every face edge is a noded line shared by the two faces on either side, so any union of faces
is seamless with its neighbours by construction.

A block can hold more households than a grid should (an estate with no mapped internal road): such a
face is cut by straight lines across its long axis, placed in the gaps between building footprints where
one is near the right share of households, and the cut lines are noded with the roads before the one
polygonisation, so they are shared edges like any other.  Slivers that noding leaves where a road runs
along the community line (a few square centimetres) and thin road-median faces are merged into the
neighbour they share the longest edge with; the grouping never sees them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from .geometry import NOISE_M2, SNAP_M, Metric, extend_line, metres_per_degree, polygons
from .grouping import FaceGraph

# Faces smaller than this, or thinner on average (2A/P), are folded into a neighbour: noding slivers
# along the community line, road medians between dual carriageways, corners cut by slip roads.
MIN_FACE_M2 = 2_000.0
MIN_FACE_WIDTH_M = 12.0
# Two faces are neighbours when they share at least this much boundary (a corner is not adjacency).
MIN_SHARED_M = 1.0
# How far lines are kept beyond the region, and how far a cut is pushed past the face it divides, so
# that both are noded with the boundary they end on.
OVERSHOOT_M = 1.0
CUT_OVERSHOOT_M = 0.01
# How much more a grid edge through a block costs than one along a road, per metre (boundaries.grouping).
BLOCK_CUT_WEIGHT = 10.0
# A cut may miss the wanted share of households by this much (a fraction of the block's households) to
# run in a gap between footprints rather than between two building points.
GAP_SLACK = 0.1
# A face holding more than SPLIT_ABOVE × the target is cut between its buildings into parts of about
# PIECE × the target: fine enough for the grouping to reach ±20 %, and most cuts end up inside a grid.
SPLIT_ABOVE = 0.4
PIECE = 0.2


@dataclass
class Buildings:
    """The buildings of one community: points (degrees), households, footprints (degrees)."""

    points: np.ndarray  # (n, 2)
    households: np.ndarray  # (n,)
    footprints: list[BaseGeometry]

    def __len__(self) -> int:
        return len(self.households)

    def subset(self, index: np.ndarray) -> Buildings:
        return Buildings(self.points[index], self.households[index], [self.footprints[i] for i in index])


@dataclass
class Faces:
    """The faces of one community and their graph (slivers already folded into their neighbours)."""

    shapes: list[list[Polygon]]  # each node: the polygons it is made of
    graph: FaceGraph
    households: list[int]
    cuts_m: float = 0.0  # length of cut lines drawn through blocks (not along a road)
    cut_lines: list[LineString] = field(default_factory=list)


def _lines_of(geom: BaseGeometry) -> list[BaseGeometry]:
    if geom.is_empty:
        return []
    if geom.geom_type in ("LineString", "MultiLineString", "LinearRing"):
        return [geom]
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return [geom.boundary]
    return [g for part in getattr(geom, "geoms", []) for g in _lines_of(part)]


def polygonise(region: BaseGeometry, lines: list[BaseGeometry], metric: Metric) -> list[Polygon]:
    """The faces into which `lines` (inside the region, or crossing its boundary by a little) and the
    region's boundary cut it, clipped to it, with any area the polygonisation missed handed back as
    faces of its own (so the faces always tile the region)."""
    noded = shapely.union_all([region.boundary, *lines])
    faces = [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))) if not f.is_empty]
    # Faces inside holes of the region (a dedicated grid, say) are not the region's.
    kept = []
    for f in faces:
        inter = f.intersection(region)
        if inter.area > 0.5 * f.area:
            kept.extend(p for p in polygons(inter) if metric.area(p) > NOISE_M2)
    lost = region.difference(shapely.union_all(kept)) if kept else region
    kept.extend(p for p in polygons(lost) if metric.area(p) > NOISE_M2)
    return kept


def clip_lines(region: BaseGeometry, lines: list[BaseGeometry], metric: Metric) -> list[BaseGeometry]:
    """The parts of roads and water banks in and just around the region.  They are clipped to the
    region grown by OVERSHOOT_M, not to the region itself: a line clipped exactly at the boundary ends a
    hair's breadth off it and is never noded with it (it would cut nothing); one that crosses it is
    noded exactly, and its ends outside bound no face of the region."""
    out = []
    around = region.buffer(metric.degrees(OVERSHOOT_M), quad_segs=2)
    edge = region.boundary
    shapely.prepare(around)
    for line in lines:
        for part in _lines_of(line):
            if shapely.intersects(around, part):
                # A road drawn along the community line, a few centimetres off it, would leave a sliver
                # face between the two: within SNAP_M it is taken to be on the line.
                clipped = shapely.snap(part.intersection(around), edge, metric.degrees(SNAP_M))
                out.extend(_lines_of(clipped))
    return out


def _segments(geom: BaseGeometry) -> list[LineString]:
    return [
        g
        for g in shapely.get_parts(shapely.line_merge(geom) if not geom.is_empty else geom)
        if isinstance(g, LineString) and not g.is_empty
    ]


def _axis(poly: BaseGeometry, metric: Metric) -> tuple[float, float]:
    """The unit vector of the long side of the minimum rotated rectangle, in local metres."""
    rect = shapely.minimum_rotated_rectangle(metric.local(poly))
    coords = list(rect.exterior.coords) if isinstance(rect, Polygon) else list(rect.coords)
    if len(coords) < 3:
        return (1.0, 0.0)
    (x0, y0), (x1, y1), (x2, y2) = coords[0], coords[1], coords[2]
    a, b = (x1 - x0, y1 - y0), (x2 - x1, y2 - y1)
    u = a if math.hypot(*a) >= math.hypot(*b) else b
    n = math.hypot(*u) or 1.0
    return (u[0] / n, u[1] / n)


def _cut_position(
    t: np.ndarray, lo: np.ndarray, hi: np.ndarray, h: np.ndarray, share: float
) -> tuple[float, float, bool]:
    """Where along an axis to cut so that `share` of the households lie below, how far off that share
    it is (a fraction of the households), and whether it runs clear of every footprint: the gap between
    footprints nearest the right share when one is within GAP_SLACK of it, else the middle between the
    two building points that straddle the share."""
    order = np.argsort(t, kind="stable")
    cum = np.cumsum(h[order])
    total = max(float(cum[-1]), 1.0)
    want = total * share
    best: tuple[float, float] | None = None
    ends = np.maximum.accumulate(hi[order])  # gaps: after footprint i ends, before the next one begins
    for i in range(len(order) - 1):
        nxt = lo[order[i + 1]]
        if ends[i] < nxt:
            err = abs(cum[i] - want) / total
            if best is None or err < best[0]:
                best = (err, (ends[i] + nxt) / 2)
    if best is not None and best[0] <= GAP_SLACK + 1e-9:
        return best[1], best[0], True
    i = min(max(int(np.searchsorted(cum, want)), 0), len(order) - 2)
    if t[order[i]] == t[order[i + 1]]:
        return float(t[order[i]]), 1.0, False  # the points coincide along this axis: no cut here
    return (t[order[i]] + t[order[i + 1]]) / 2, abs(cum[i] - want) / total, False


def cut_lines_for(
    face: Polygon, buildings: Buildings, size: float, above: float, metric: Metric, depth: int = 0
) -> list[LineString]:
    """Straight lines across `face` dividing its households into parts of about `size` each, placed
    between buildings; a part of no more than `above` households is not cut again."""
    total = float(buildings.households.sum())
    if total <= above or size <= 0:
        return []
    pieces = max(round(total / size), 2)
    if pieces <= 1 or len(buildings) < 2 or depth > 10:
        return []
    kx, ky = metres_per_degree(metric.lat)
    local = metric.local(face)
    pts = buildings.points * np.array([kx, ky])
    share = (pieces // 2) / pieces
    # Across the block's long axis first (the shorter cut), else along it: whichever keeps clear of the
    # buildings and comes nearer the share.
    ax, ay = _axis(face, metric)
    choices = []
    for rank, (ux, uy) in enumerate(((ax, ay), (-ay, ax))):
        t = pts[:, 0] * ux + pts[:, 1] * uy
        lo, hi = np.empty(len(buildings)), np.empty(len(buildings))
        for i, fp in enumerate(buildings.footprints):
            c = shapely.get_coordinates(fp) * np.array([kx, ky])
            proj = c[:, 0] * ux + c[:, 1] * uy
            lo[i], hi[i] = proj.min(), proj.max()
        pos, err, clear = _cut_position(t, lo, hi, buildings.households.astype(float), share)
        choices.append((not clear, round(err, 6), rank, pos, ux, uy))
    _, err, _, pos, ux, uy = min(choices)
    if err >= 1.0:
        return []
    # The cut: perpendicular to the axis at `pos`, through the face's centre line, long enough to cross it.
    minx, miny, maxx, maxy = local.bounds
    reach = math.hypot(maxx - minx, maxy - miny) + 10.0
    centre = local.centroid
    across = centre.x * -uy + centre.y * ux
    cx, cy = ux * pos - uy * across, uy * pos + ux * across
    line = LineString([(cx + uy * reach, cy - ux * reach), (cx - uy * reach, cy + ux * reach)])
    line = shapely.affinity.scale(line, 1 / kx, 1 / ky, origin=(0, 0))
    push = metric.degrees(CUT_OVERSHOOT_M)
    inside = [extend_line(seg, push) for seg in _segments(line.intersection(face))]
    if not inside:
        return []
    out = list(inside)
    for part in polygonise(face, inside, metric):
        idx = np.flatnonzero(shapely.contains_xy(part, buildings.points[:, 0], buildings.points[:, 1]))
        if len(idx) > 1:
            out.extend(cut_lines_for(part, buildings.subset(idx), size, above, metric, depth + 1))
    return out


def _assign(faces: list[Polygon], points: np.ndarray) -> np.ndarray:
    """The face holding each point (-1 for none; a point on a shared edge goes to the first face)."""
    owner = np.full(len(points), -1, dtype=int)
    if not len(points) or not faces:
        return owner
    tree = shapely.STRtree(faces)
    pts, idx = tree.query(shapely.points(points), predicate="intersects")
    for p, f in sorted(zip(pts.tolist(), idx.tolist(), strict=True), reverse=True):
        owner[p] = f  # reverse order: the smallest face index is written last and wins
    return owner


def community_faces(
    region: BaseGeometry,
    lines: list[BaseGeometry],
    buildings: Buildings,
    target: float,
    metric: Metric,
) -> Faces:
    """The faces of `region` (a community minus its dedicated grids) cut by `lines` (roads and water,
    any extent), blocks above SPLIT_ABOVE × target cut between their buildings, slivers folded."""
    inner = clip_lines(region, lines, metric)
    faces = polygonise(region, inner, metric)
    owner = _assign(faces, buildings.points)
    cuts: list[LineString] = []
    for f, face in enumerate(faces):
        idx = np.flatnonzero(owner == f)
        if target > 0:
            cuts.extend(
                cut_lines_for(face, buildings.subset(idx), PIECE * target, SPLIT_ABOVE * target, metric)
            )
    origin = list(range(len(faces)))
    if cuts:
        blocks = faces
        faces = polygonise(region, inner + cuts, metric)
        owner = _assign(faces, buildings.points)
        at = np.array([[p.x, p.y] for p in (f.representative_point() for f in faces)]).reshape(-1, 2)
        origin = _assign(blocks, at).tolist()
    households = np.zeros(len(faces))
    np.add.at(households, owner[owner >= 0], buildings.households[owner >= 0])
    return _fold(faces, households, origin, metric, cuts)


def _fold(
    faces: list[Polygon], households: np.ndarray, origin: list[int], metric: Metric, cuts: list[LineString]
) -> Faces:
    """Build the face graph, folding small and thin faces into the neighbour they share most edge with.

    Edges between two pieces of one block (a cut between buildings, not a road) weigh BLOCK_CUT_WEIGHT
    times their length in the graph, so the grouping draws grid lines through blocks only where the
    household balance needs it."""
    n = len(faces)
    area = [metric.area(f) for f in faces]
    perimeter = [metric.length(f.exterior) + sum(metric.length(r) for r in f.interiors) for f in faces]
    adj: list[dict[int, float]] = [{} for _ in range(n)]  # weighted lengths (what the grouping sees)
    real: list[dict[int, float]] = [{} for _ in range(n)]  # true lengths (perimeters of folded faces)
    if n > 1:
        tree = shapely.STRtree(faces)
        left, right = tree.query(faces, predicate="intersects")
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            if a < b:
                shared = metric.length(faces[a].boundary.intersection(faces[b].boundary))
                if shared > 0:
                    real[a][b] = real[b][a] = shared
                    through_block = origin[a] == origin[b] and origin[a] >= 0
                    adj[a][b] = adj[b][a] = shared * (BLOCK_CUT_WEIGHT if through_block else 1.0)
    members = [[i] for i in range(n)]
    weight = households.astype(float).tolist()
    alive = [True] * n

    def small(i: int) -> bool:
        return area[i] < MIN_FACE_M2 or 2 * area[i] / max(perimeter[i], 1e-9) < MIN_FACE_WIDTH_M

    # smallest first; a face that grows past the thresholds stops being folded
    for i in sorted(range(n), key=lambda k: (area[k], k)):
        if not alive[i] or not small(i) or not real[i]:
            continue
        j = max(real[i], key=lambda m: (real[i][m], -m))
        shared = real[i][j]
        for links in (adj, real):
            links[i].pop(j)
            links[j].pop(i)
            for m, length in links[i].items():
                links[m].pop(i)
                links[j][m] = links[m][j] = links[j].get(m, 0.0) + length
            links[i] = {}
        members[j].extend(members[i])
        weight[j] += weight[i]
        area[j] += area[i]
        perimeter[j] += perimeter[i] - 2 * shared
        alive[i] = False
    keep = [i for i in range(n) if alive[i]]
    index = {old: new for new, old in enumerate(keep)}
    kx, ky = metres_per_degree(metric.lat)
    xy = []
    for i in keep:
        parts = [faces[m] for m in members[i]]
        weights = [max(p.area, 1e-30) for p in parts]
        cx = sum(p.centroid.x * w for p, w in zip(parts, weights, strict=True)) / sum(weights)
        cy = sum(p.centroid.y * w for p, w in zip(parts, weights, strict=True)) / sum(weights)
        xy.append((cx * kx, cy * ky))
    graph = FaceGraph(weight=[weight[i] for i in keep], area=[area[i] for i in keep], xy=xy)
    for i in keep:
        for m, length in adj[i].items():
            if index[i] < index[m] and real[i][m] >= MIN_SHARED_M:
                graph.connect(index[i], index[m], length)
    return Faces(
        shapes=[[faces[m] for m in members[i]] for i in keep],
        graph=graph,
        households=[int(round(weight[i])) for i in keep],
        cuts_m=sum(metric.length(c) for c in cuts),
        cut_lines=cuts,
    )
