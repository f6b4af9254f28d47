"""The edit operations, each a local repartition that cannot open a gap or an overlap.

Every operation takes a set S of grids of one community (or, for overlay nets, one district), computes
U = ∪S, and replaces S by new grids whose union is U by construction: a split cuts U, a merge or a delete
unions it, a reshape re-cuts it along a new edge (or accepts new geometries only if they tile U up to the
snapping tolerance), a creation carves the new polygon out of the grids it covers.  Grids outside S are
not read or written, so their shared edges keep their exact vertices and no neighbour can come loose.
What an operation cannot do seamlessly it refuses, with the reason, instead of half-doing it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import shapely
from django.db import connection, transaction
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import polygonize

from layers.models import AdminUnit, GridKind, Net

from .codes import renumber
from .drafts import editable, touch
from .errors import Refusal
from .geometry import (
    NOISE_M2,
    SNAP_M,
    clean_holes,
    extend_line,
    from_db,
    metric_of,
    parse_geojson,
    polygons,
    reading_point,
    single_polygon,
    to_db,
)
from .models import Draft, DraftGrid, Operation

OPS = ("split", "merge", "reshape", "create", "delete")


@dataclass
class Outcome:
    """What an operation did, by final grid code."""

    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    containers: set[int] = field(default_factory=set)
    kept_by: dict[str, str] = field(default_factory=dict)  # split / merge: which grid kept the code
    new: list[DraftGrid] = field(default_factory=list)  # created rows, whose codes are final after renumber

    def as_json(self) -> dict:
        return {
            "created": self.created,
            "changed": self.changed,
            "removed": self.removed,
            **({"kept": self.kept_by} if self.kept_by else {}),
        }


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise Refusal(400, "bad_request", f"缺少或无效的参数 {name}", f"missing or invalid parameter {name}")
    return value.strip()


def _codes(value: object, name: str, at_least: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Refusal(400, "bad_request", f"{name} 应为网格编码列表", f"{name} must be a list of grid codes")
    codes = list(dict.fromkeys(v.strip() for v in value))
    if len(codes) < at_least:
        raise Refusal(
            400,
            "bad_request",
            f"{name} 至少需要 {at_least} 个不同的网格",
            f"{name} needs at least {at_least} different grids",
        )
    return codes


class Editor:
    """Applies operations to one draft; geometry in storage degrees, measurements in metres."""

    def __init__(self, draft: Draft, user=None) -> None:
        self.draft = draft
        self.user = user
        self.metric = metric_of(draft)
        self.tol = self.metric.degrees(SNAP_M)
        self.shapes: dict[int, Polygon] = {}
        # For undo: each changed row as it was before this operation first wrote it, and the rows it made.
        self.before: dict[int, dict] = {}
        self.created: list[int] = []

    # ------------------------------------------------------------------ lookups
    def grid(self, code: str) -> DraftGrid:
        g = DraftGrid.objects.filter(draft=self.draft, code=code, deleted=False).first()
        if g is None:
            raise Refusal(
                422, "unknown_grid", f"草稿中没有网格 {code}", f"no grid {code} in this draft", grids=[code]
            )
        return g

    def shape(self, g: DraftGrid) -> Polygon:
        if g.pk not in self.shapes:
            geom = from_db(g.geom)
            parts = polygons(geom)
            self.shapes[g.pk] = parts[0] if len(parts) == 1 else geom
        return self.shapes[g.pk]

    def container_geom(self, container_id: int) -> BaseGeometry:
        return from_db(AdminUnit.objects.only("geom").get(pk=container_id).geom)

    def households(self, geom: BaseGeometry) -> int:
        with connection.cursor() as cur:
            cur.execute(
                "select coalesce(sum(households), 0) from layers_building "
                "where st_contains(st_geomfromwkb(%s, 4490), point)",
                [shapely.to_wkb(geom)],
            )
            return int(cur.fetchone()[0])

    def neighbours_in(self, container_id: int, exclude: set[int]) -> list[DraftGrid]:
        return list(
            DraftGrid.objects.filter(draft=self.draft, container_id=container_id, deleted=False).exclude(
                pk__in=exclude
            )
        )

    # ------------------------------------------------------------------ writes
    def remember(self, g: DraftGrid) -> None:
        """Keep the row's state before this operation's first write to it (EWKB keeps every bit)."""
        if g.pk not in self.before and g.pk not in self.created:
            self.before[g.pk] = {"geom": g.geom.hexewkb.decode(), "changed": g.changed, "deleted": g.deleted}

    def set_shape(self, g: DraftGrid, geom: Polygon, outcome: Outcome) -> None:
        self.remember(g)
        self.shapes[g.pk] = geom
        g.geom = to_db(geom)
        g.changed = True
        g.save(update_fields=["geom", "changed"])
        outcome.containers.add(g.container_id)

    def remove(self, g: DraftGrid, outcome: Outcome) -> None:
        self.remember(g)
        g.deleted = True
        g.save(update_fields=["deleted"])
        outcome.removed.append(g.code)
        outcome.containers.add(g.container_id)

    def add(self, like: DraftGrid, geom: Polygon, outcome: Outcome, **fields) -> DraftGrid:
        values = {
            "net_id": like.net_id,
            "kind": like.kind,
            "name": "",
            "container_id": like.container_id,
            "community_id": like.community_id,
            "district_id": like.district_id,
            "target_households": like.target_households,
            "auto_name": True,
        }
        values.update(fields)
        g = DraftGrid.objects.create(
            draft=self.draft,
            code=f"new-{uuid.uuid4().hex[:12]}",
            source=None,
            changed=True,
            deleted=False,
            geom=to_db(geom),
            **values,
        )
        self.shapes[g.pk] = geom
        self.created.append(g.pk)
        outcome.containers.add(g.container_id)
        return g

    # ------------------------------------------------------------------ checks
    def check_piece(self, geom: Polygon, what: str) -> None:
        if not geom.is_valid:
            raise Refusal(
                422, "invalid_result", f"{what} 的结果几何无效", f"the result for {what} is invalid"
            )
        if self.metric.sliver(geom):
            raise Refusal(
                422,
                "sliver",
                f"{what} 会成为细长碎片（平均宽度或面积过小）",
                f"{what} would become a sliver (too narrow or too small)",
                at=_point(geom),
            )

    def keep_order(self, pieces: list[Polygon]) -> list[int]:
        """The piece that keeps an old code: most households, then largest area, then reading order."""
        points = [reading_point(p, self.metric) for p in pieces]
        first = {i: n for n, i in enumerate(_reading(points))}
        keys = [(-self.households(p), -round(self.metric.area(p), 3), first[i]) for i, p in enumerate(pieces)]
        return sorted(range(len(pieces)), key=lambda i: keys[i])

    def cut(self, area: Polygon, line: LineString) -> list[Polygon]:
        """`area` cut by `line` (ends within the snapping distance of the boundary reach it); crumbs
        narrower than the snapping distance join the piece they share the longest edge with.

        Not shapely.ops.split: it keeps a face only when its representative point tests inside the
        polygon, and silently drops thin faces whose point falls on the boundary (a few hundredths of
        a square metre were lost that way).  Here faces are kept by area, clipped to the polygon, and
        whatever area is still missing is handed back, so the pieces tile the polygon exactly."""
        lines = shapely.union(area.boundary, extend_line(line, self.tol))
        faces = [f for f in polygonize(lines) if f.intersection(area).area > 0.5 * f.area]
        pieces = [p for f in faces for p in polygons(f.intersection(area))]
        lost = polygons(area.difference(shapely.union_all(pieces))) if pieces else []
        big = [p for p in pieces if not self._noise(p)]
        crumbs = [p for p in pieces if self._noise(p)] + lost
        if not big:
            return pieces
        return self.settle(big, crumbs)

    def settle(self, mains: list[Polygon], crumbs: list[Polygon]) -> list[Polygon]:
        """Give every crumb to the main polygon it shares the longest edge with, so no area is lost.
        A crumb touching no main polygon along an edge is refused (it would become a grid of its own)."""
        mains = list(mains)
        for crumb in sorted(crumbs, key=lambda c: -c.area):
            if self.metric.area(crumb) <= NOISE_M2:
                continue  # floating-point dust
            shared = [m.boundary.intersection(crumb.boundary).length for m in mains]
            i = max(range(len(mains)), key=lambda k: shared[k])
            joined = single_polygon(mains[i].union(crumb), self.metric) if shared[i] > 0 else None
            if joined is None:
                raise Refusal(
                    422,
                    "sliver",
                    "操作会留下一块不与任何网格相连的碎片",
                    "the operation would leave a crumb attached to no grid",
                    at=_point(crumb),
                )
            mains[i] = joined
        return mains

    def settle_parts(self, geoms: list[BaseGeometry], grids: list[DraftGrid]) -> list[Polygon]:
        """Each result's largest part is the grid; its other parts, when narrower than the snapping
        distance, go to the neighbour sharing the longest edge, and otherwise are refused."""
        mains: list[Polygon] = []
        crumbs: list[Polygon] = []
        for g, geom in zip(grids, geoms, strict=True):
            parts = sorted(polygons(geom), key=lambda p: -p.area) if geom is not None else []
            parts = [p for p in parts if self.metric.area(p) > NOISE_M2]
            if not parts:
                raise Refusal(
                    422,
                    "reshape_multipart",
                    f"调整后网格 {g.code} 为空",
                    f"after the reshape grid {g.code} would vanish",
                    grids=[g.code],
                )
            for extra in parts[1:]:
                if not self._noise(extra):
                    raise Refusal(
                        422,
                        "reshape_multipart",
                        f"调整后网格 {g.code} 会分成多块",
                        f"after the reshape grid {g.code} would fall into several parts",
                        grids=[g.code],
                        at=_point(extra),
                    )
            mains.append(parts[0])
            crumbs += parts[1:]
        return self.settle(mains, crumbs)

    # ------------------------------------------------------------------ operations
    def split(self, body: dict) -> Outcome:
        g = self.grid(_text(body.get("grid"), "grid"))
        line = parse_geojson(body.get("line"), ("LineString",), "line", body.get("crs"))
        area = self.shape(g)
        pieces = self.cut(area, line)
        if len(pieces) < 2:
            raise Refusal(
                422,
                "split_no_cut",
                f"分割线没有把网格 {g.code} 分开（线的两端应在网格边界上或以外）",
                f"the line does not cut grid {g.code} (both ends must reach its boundary)",
                grids=[g.code],
            )
        if len(pieces) > 2:
            raise Refusal(
                422,
                "split_many_pieces",
                f"分割线把网格 {g.code} 分成了 {len(pieces)} 块，只能一分为二",
                f"the line cuts grid {g.code} into {len(pieces)} pieces; a split makes two",
                grids=[g.code],
            )
        pieces = [clean_holes(p, self.metric) for p in pieces]
        for p in pieces:
            self.check_piece(p, f"网格 grid {g.code}")
        keep, other = self.keep_order(pieces)
        out = Outcome()
        self.set_shape(g, pieces[keep], out)
        new = self.add(g, pieces[other], out)
        out.changed.append(g.code)
        out.kept_by[g.code] = "most_households"
        out.new.append(new)
        return out

    def _same_container(self, grids: list[DraftGrid], op: str) -> None:
        if len({g.container_id for g in grids}) > 1:
            raise Refusal(
                422,
                f"{op}_different_communities",
                "这些网格不在同一个社区（区县）内",
                "the grids lie in different communities (districts)",
                grids=[g.code for g in grids],
            )

    def _union(self, grids: list[DraftGrid], op: str) -> Polygon:
        union = shapely.union_all([self.shape(g) for g in grids])
        merged = single_polygon(union, self.metric)
        if merged is None:
            raise Refusal(
                422,
                f"{op}_not_adjacent",
                "这些网格不相邻（没有共同的边）",
                "the grids are not adjacent (they share no edge)",
                grids=[g.code for g in grids],
            )
        return merged

    def merge(self, body: dict) -> Outcome:
        grids = [self.grid(c) for c in _codes(body.get("grids"), "grids", 2)]
        self._same_container(grids, "merge")
        if len({g.net_id for g in grids}) > 1:
            raise Refusal(
                422,
                "merge_different_nets",
                "不能合并不同网的网格（如综合网格与专属网格）",
                "grids of different nets cannot be merged",
                grids=[g.code for g in grids],
            )
        merged = self._union(grids, "merge")
        if body.get("keep") is not None:
            keep_code = _text(body.get("keep"), "keep")
            keeper = next((g for g in grids if g.code == keep_code), None)
            if keeper is None:
                raise Refusal(
                    400, "bad_request", "keep 必须是被合并的网格之一", "keep must be one of the grids"
                )
            rule = "requested"
        else:
            keeper = grids[self.keep_order([self.shape(g) for g in grids])[0]]
            rule = "most_households"
        out = Outcome()
        self.set_shape(keeper, merged, out)
        out.changed.append(keeper.code)
        for g in grids:
            if g is not keeper:
                self.remove(g, out)
        out.kept_by[keeper.code] = rule
        return out

    def delete(self, body: dict) -> Outcome:
        g = self.grid(_text(body.get("grid"), "grid"))
        into = self.grid(_text(body.get("into"), "into"))
        if g.pk == into.pk:
            raise Refusal(400, "bad_request", "into 不能是被删除的网格本身", "into must be another grid")
        self._same_container([g, into], "delete")
        merged = self._union([g, into], "delete")
        out = Outcome()
        self.set_shape(into, merged, out)
        out.changed.append(into.code)
        self.remove(g, out)
        return out

    def reshape(self, body: dict) -> Outcome:
        grids = [self.grid(c) for c in _codes(body.get("grids"), "grids", 2)]
        self._same_container(grids, "reshape")
        has_edge, has_geoms = body.get("edge") is not None, body.get("geometries") is not None
        if has_edge == has_geoms:
            raise Refusal(
                400,
                "bad_request",
                "reshape 需要 edge（新的公共边）或 geometries（新边界）之一",
                "reshape needs either edge (the new shared edge) or geometries (new boundaries)",
            )
        if has_edge:
            return self._reshape_edge(grids, body)
        return self._reshape_geometries(grids, body)

    def _outside(self, geom: BaseGeometry, union: BaseGeometry, grids: list[DraftGrid], what: str) -> None:
        """Refuse input that reaches beyond the grids being reshaped, naming what it would cross."""
        container = self.container_geom(grids[0].container_id)
        beyond_container = geom.difference(container)
        if not beyond_container.is_empty and not self._noise(beyond_container):
            raise Refusal(
                422,
                "crosses_community",
                f"{what} 越过了社区（区县）边界",
                f"{what} crosses the community (district) line",
                grids=[g.code for g in grids],
                at=_point(beyond_container),
            )
        beyond = geom.intersection(container).difference(union)
        if not beyond.is_empty and not self._noise(beyond):
            others = [
                n.code
                for n in self.neighbours_in(grids[0].container_id, {g.pk for g in grids})
                if not self._noise(self.shape(n).intersection(beyond))
            ]
            raise Refusal(
                422,
                "outside_grids",
                f"{what} 伸入了未列出的网格 {', '.join(others)}，请把它们列入 grids",
                f"{what} reaches into grids not listed: {', '.join(others)}; list them in grids",
                grids=others,
                at=_point(beyond),
            )

    def _noise(self, geom: BaseGeometry) -> bool:
        """Within the snapping distance: thinner than twice SNAP_M everywhere (lines always are)."""
        if geom.geom_type in ("LineString", "MultiLineString"):
            return self.metric.length(geom) <= 3 * SNAP_M
        parts = polygons(geom)
        return all(self.metric.thin(p, 2 * SNAP_M) for p in parts)

    def _reshape_edge(self, grids: list[DraftGrid], body: dict) -> Outcome:
        if len(grids) != 2:
            raise Refusal(
                400, "bad_request", "按公共边调整只能针对两个网格", "an edge reshape takes exactly two grids"
            )
        line = parse_geojson(body.get("edge"), ("LineString",), "edge", body.get("crs"))
        union = self._union(grids, "reshape")
        self._outside(line, union.buffer(self.tol), grids, "新的公共边 the new edge")
        pieces = self.cut(union, line)
        if len(pieces) < 2:
            raise Refusal(
                422,
                "reshape_no_cut",
                "新的公共边没有把两个网格分开（两端应在外边界上）",
                "the new edge does not divide the two grids (its ends must reach their outer boundary)",
                grids=[g.code for g in grids],
            )
        old = [self.shape(g) for g in grids]
        assigned: list[list[Polygon]] = [[], []]
        for p in pieces:
            shares = [self.metric.area(p.intersection(o)) for o in old]
            assigned[0 if shares[0] >= shares[1] else 1].append(p)
        return self._apply_reshape(grids, [shapely.union_all(a) if a else Polygon() for a in assigned])

    def _reshape_geometries(self, grids: list[DraftGrid], body: dict) -> Outcome:
        given = body.get("geometries")
        if not isinstance(given, dict) or not given:
            raise Refusal(
                400,
                "bad_request",
                "geometries 应为 {网格编码: GeoJSON 多边形}",
                "geometries must map grid codes to GeoJSON polygons",
            )
        by_code = {g.code: g for g in grids}
        unknown = [c for c in given if c not in by_code]
        if unknown:
            raise Refusal(
                400,
                "bad_request",
                f"geometries 中的网格不在 grids 中：{', '.join(unknown)}",
                f"geometries names grids not in grids: {', '.join(unknown)}",
            )
        missing = [g for g in grids if g.code not in given]
        if len(missing) > 1:
            raise Refusal(
                400,
                "bad_request",
                "最多只能有一个网格不给出新边界（它取剩余部分）",
                "at most one grid may go without a new geometry (it takes the rest)",
            )
        union = shapely.union_all([self.shape(g) for g in grids])
        reference = shapely.union_all(
            [self.shape(g).boundary for g in grids] + [self.container_geom(grids[0].container_id).boundary]
        )
        new: list[BaseGeometry] = []
        for g in grids:
            if g.code not in given:
                new.append(None)
                continue
            geom = parse_geojson(
                given[g.code], ("Polygon", "MultiPolygon"), f"geometries[{g.code}]", body.get("crs")
            )
            geom = shapely.snap(geom, reference, self.tol)
            self._outside(geom, union, grids, f"网格 grid {g.code} 的新边界")
            new.append(geom.intersection(union))
        # Earlier grids win overlaps below the snapping distance; real overlaps are refused.
        taken: BaseGeometry = Polygon()
        for i, g in enumerate(grids):
            if new[i] is None:
                continue
            overlap = new[i].intersection(taken)
            if not overlap.is_empty and not self._noise(overlap):
                raise Refusal(
                    422,
                    "reshape_overlap",
                    f"新边界相互重叠（网格 {g.code}）",
                    f"the new geometries overlap (grid {g.code})",
                    grids=[g.code],
                    at=_point(overlap),
                )
            new[i] = new[i].difference(taken)
            taken = taken.union(new[i])
        rest = union.difference(taken)
        if missing:
            new[grids.index(missing[0])] = rest
            return self._apply_reshape(grids, new)
        for part in polygons(rest):
            if not self._noise(part):
                area = self.metric.area(part)
                raise Refusal(
                    422,
                    "reshape_gap",
                    f"新边界会留下 {area:.2f} 平方米的空隙",
                    f"the new geometries would leave a gap of {area:.2f} m²",
                    at=_point(part),
                    area_m2=round(area, 3),
                    grids=[g.code for g in grids],
                )
        mains = self.settle_parts(new, grids)
        return self._apply_reshape(grids, self.settle(mains, polygons(rest)))

    def _apply_reshape(self, grids: list[DraftGrid], shapes: list[BaseGeometry]) -> Outcome:
        results = [clean_holes(p, self.metric) for p in self.settle_parts(shapes, grids)]
        for g, piece in zip(grids, results, strict=True):
            self.check_piece(piece, f"网格 grid {g.code}")
        out = Outcome()
        for g, piece in zip(grids, results, strict=True):
            if not piece.equals(self.shape(g)):
                self.set_shape(g, piece, out)
                out.changed.append(g.code)
        return out

    def create(self, body: dict) -> Outcome:
        poly = parse_geojson(body.get("polygon"), ("Polygon", "MultiPolygon"), "polygon", body.get("crs"))
        net = self._net(body.get("net"))
        kind = body.get("kind", GridKind.STANDARD)
        if kind not in GridKind.values:
            raise Refusal(400, "bad_request", f"未知的网格类型 {kind}", f"unknown grid kind {kind}")
        name = body.get("name")
        if name is not None:
            name = _text(name, "name")
        target = body.get("target_households")
        if target is not None and (
            not isinstance(target, int) or isinstance(target, bool) or not 0 <= target < 10**6
        ):
            raise Refusal(
                400,
                "bad_request",
                "target_households 应为非负整数",
                "target_households must be a non-negative integer",
            )
        container = self._container_of(poly)
        cgeom = self.container_geom(container.pk)
        grids = self.neighbours_in(container.pk, set())
        reference = shapely.union_all([self.shape(g).boundary for g in grids] + [cgeom.boundary])
        clipped = shapely.snap(poly, reference, self.tol).intersection(cgeom)
        piece = single_polygon(clipped, self.metric)
        if piece is None:
            raise Refusal(
                422,
                "create_multipart",
                f"多边形裁剪到{container.name}后不是一个整块",
                f"clipped to {container.code} the polygon is not one piece",
                at=_point(clipped),
            )
        out = Outcome()
        updates: list[tuple[DraftGrid, BaseGeometry | None]] = []
        absorbed: list[BaseGeometry] = [piece]
        for g in grids:
            shape = self.shape(g)
            if not shape.intersects(piece) or self.metric.area(shape.intersection(piece)) <= NOISE_M2:
                continue
            rest = shape.difference(piece)
            keep = [p for p in polygons(rest) if not self._noise(p)]
            absorbed += [p for p in polygons(rest) if self._noise(p)]
            if len(keep) > 1:
                raise Refusal(
                    422,
                    "create_cuts_grid",
                    f"新网格会把网格 {g.code} 切成 {len(keep)} 块，请先分割或调整它",
                    f"the new grid would cut grid {g.code} into {len(keep)} pieces; "
                    "split or reshape it first",
                    grids=[g.code],
                )
            updates.append((g, clean_holes(keep[0], self.metric) if keep else None))
        if not updates:
            raise Refusal(422, "create_outside_grids", "多边形没有覆盖任何网格", "the polygon covers no grid")
        new_geom = single_polygon(shapely.union_all(absorbed), self.metric)
        if new_geom is None:
            raise Refusal(422, "create_multipart", "新网格不是一个整块", "the new grid is not one piece")
        self.check_piece(new_geom, "新网格 the new grid")
        for g, geom in updates:
            if geom is not None:
                self.check_piece(geom, f"网格 grid {g.code}")
        # The new grid takes its defaults from the grid it takes most area from.
        like = max(
            (g for g, _ in updates), key=lambda g: self.metric.area(self.shape(g).intersection(new_geom))
        )
        for g, geom in updates:
            if geom is None:
                self.remove(g, out)
            else:
                self.set_shape(g, geom, out)
                out.changed.append(g.code)
        if target is None:
            target = (
                like.target_households if kind == GridKind.STANDARD else max(1, self.households(new_geom))
            )
        new = self.add(
            like,
            new_geom,
            out,
            net_id=net.pk,
            kind=kind,
            name=name or "",
            auto_name=name is None,
            target_households=target,
        )
        out.new.append(new)
        return out

    def _net(self, code: object) -> Net:
        if code is None:
            return self.draft.net
        net = Net.objects.filter(code=code, partition_group=self.draft.partition_group).first()
        if net is None:
            raise Refusal(
                422, "unknown_net", f"网 {code} 不属于本草稿", f"net {code} is not part of this draft"
            )
        return net

    def _container_of(self, poly: BaseGeometry) -> AdminUnit:
        """The draft's unit holding most of the polygon."""
        with connection.cursor() as cur:
            cur.execute(
                """select id from layers_adminunit
                   where id = any(%s) and st_intersects(geom, st_geomfromwkb(%s, 4490))
                   order by st_area(st_intersection(geom, st_geomfromwkb(%s, 4490))) desc limit 1""",
                [self.draft.containers, shapely.to_wkb(poly), shapely.to_wkb(poly)],
            )
            row = cur.fetchone()
        if row is None:
            raise Refusal(
                422,
                "create_outside_area",
                "多边形不在草稿范围内",
                "the polygon lies outside the draft's area",
            )
        return AdminUnit.objects.defer("geom", "geom_3857").get(pk=row[0])


def _reading(points: list[tuple[float, float]]) -> list[int]:
    from layers.gridorder import reading_order

    if not points:
        return []
    ys = [p[1] for p in points]
    return reading_order(points, max(1.0, (max(ys) - min(ys)) / 2))


def _point(geom: BaseGeometry) -> list[float] | None:
    if geom is None or geom.is_empty:
        return None
    p = geom.representative_point()
    return [round(p.x, 8), round(p.y, 8)]


def apply(draft: Draft, body: object, user=None) -> tuple[Outcome, dict[str, str]]:
    """Apply one operation to the draft, all or nothing; returns what it did and the renumbered codes."""
    if not isinstance(body, dict):
        raise Refusal(400, "bad_request", "请求体应为 JSON 对象", "the body must be a JSON object")
    op = body.get("op")
    if op not in OPS:
        raise Refusal(
            400,
            "unknown_op",
            f"未知的操作 {op!r}，可用：{', '.join(OPS)}",
            f"unknown op {op!r}; available: {', '.join(OPS)}",
        )
    with transaction.atomic():
        draft = Draft.objects.select_for_update().get(pk=draft.pk)
        editable(draft)
        editor = Editor(draft, user)
        outcome: Outcome = getattr(editor, op)(body)
        # Renumbering may re-sequence the draft's earlier new grids too: undo puts their codes back.
        codes = {
            str(pk): [code, name]
            for pk, code, name in DraftGrid.objects.filter(
                draft=draft, deleted=False, source__isnull=True, container_id__in=outcome.containers
            )
            .exclude(pk__in=editor.created)
            .values_list("pk", "code", "name")
        }
        renamed = renumber(draft, outcome.containers, editor.metric)
        for g in outcome.new:
            g.refresh_from_db(fields=["code", "name"])
            outcome.created.append(g.code)
        touch(draft)
        seq = draft.operations.count() + 1
        Operation.objects.create(
            draft=draft,
            seq=seq,
            op=op,
            payload=body,
            result=outcome.as_json(),
            undo={
                "rows": {str(pk): row for pk, row in editor.before.items()},
                "created": editor.created,
                "codes": codes,
                "containers": sorted(outcome.containers),
            },
            user=user if user is not None and user.is_authenticated else None,
        )
    return outcome, renamed
