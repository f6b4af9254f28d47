"""Per layer: how a validated file feature becomes a model row.

Property names are the registry's published names, so whatever `export_layer` writes, `import_layer`
reads back.  Values a file cannot be trusted with — foreign keys, the community and grid a feature lies
in, a unit's parent — are derived from codes and locations here; when a file carries them anyway
(our own exports do) and they disagree, the location wins and the import says how often it happened.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection, models
from shapely.geometry.base import BaseGeometry

from layers.models import (
    Address,
    AdminLevel,
    AdminUnit,
    Building,
    Generation,
    GenerationStatus,
    Grid,
    GridKind,
    HouseUnit,
    Net,
    PartyOrganisation,
    Resident,
    Road,
    ServiceStation,
)
from layers.models.admin import CODE_LENGTH
from layers.models.geo import metres_per_degree
from layers.models.grids import database_now
from layers.registry import LayerSpec

from .errors import LayerIOError
from .fields import column_aliases, model_field
from .locate import Locator, representative_point
from .reproject import STORAGE_CRS

SRID = int(STORAGE_CRS.split(":")[1])
BATCH = 1000


@dataclass
class Row:
    """One feature of the file on its way to the database."""

    index: int  # 1-based position in the file
    fid: str  # the file's own feature id (0-based in shapefiles, 1-based in GeoPackages)
    values: dict[str, Any] = field(default_factory=dict)
    geom: BaseGeometry | None = None  # EPSG:4490, promoted to the model's geometry type
    problems: list[str] = field(default_factory=list)
    obj: models.Model | None = None
    # what the import mended (with --repair): the row loads, and the report says how
    repairs: list[str] = field(default_factory=list)
    dropped: bool = False  # a duplicate of an earlier row, not loaded (with --repair)


@dataclass
class MappingOptions:
    replace: bool = False
    net: str | None = None
    # buildings: road and door number may be missing, an address register loaded next supplies them
    addresses_later: bool = False
    # mend what can be mended (admin units: boundaries snapped to their neighbours')
    repair: bool = False
    # grids: publish the file's grids as a new generation of their net (onboarding) instead of adding
    # them to the generation in force
    new_generation: bool = False


def geos(geom: BaseGeometry) -> GEOSGeometry:
    return GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=SRID)


class LayerMapping:
    """The generic part: columns come from the registry, values are parsed by model field."""

    layer_id: ClassVar[str]
    family: ClassVar[str]  # "polygon", "line" or "point"
    required: ClassVar[tuple[str, ...]] = ()
    # Published properties computed here from codes or location; a file value is only compared.
    derived: ClassVar[tuple[str, ...]] = ()
    # Which property names a bad feature in messages (the first that has a value).
    label_keys: ClassVar[tuple[str, ...]] = ("code", "name", "address")
    # Admin units define the city, so they are not checked against it.
    check_city: ClassVar[bool] = True
    replace_help: ClassVar[str] = "先删除该图层全部现有要素 delete all existing rows of the layer first"

    def __init__(self, spec: LayerSpec, locator: Locator, options: MappingOptions) -> None:
        self.spec = spec
        self.model = spec.model
        self.locator = locator
        self.options = options
        self.mismatches: Counter[str] = Counter()
        self.warnings: list[str] = []
        self.updated = 0  # rows changed in place rather than added (admin units with --replace)

    # -- columns -----------------------------------------------------------------------------------
    def columns(self) -> dict[str, models.Field]:
        """Published property → the model field whose rules parse it (related fields for derived ones)."""
        return {prop: model_field(self.model, lookup) for prop, lookup in self.spec.properties.items()}

    def aliases(self) -> dict[str, tuple[str, ...]]:
        out = {}
        for prop, lookup in self.spec.properties.items():
            local = None if "__" in lookup else model_field(self.model, lookup)
            out[prop] = column_aliases(prop, local)
        return out

    def label(self, values: dict[str, Any]) -> str:
        for key in self.label_keys:
            if values.get(key):
                return f"{key}={values[key]}"
        return ""

    # -- steps -------------------------------------------------------------------------------------
    def prepare(self, matched: dict[str, str]) -> None:
        """File-level checks once the columns are known; raise LayerIOError to refuse the whole file."""

    def build(self, row: Row) -> None:
        """Make `row.obj` from `row.values` and `row.geom`, or append to `row.problems`."""
        raise NotImplementedError

    def check_all(self, rows: list[Row]) -> None:
        """Checks across features (duplicate codes, clashes with what is already stored)."""

    def replace(self, objs: list[models.Model]) -> dict[str, int]:
        """Called inside the write transaction with --replace, before `write(objs)`; returns counts."""
        _, per_model = self.model.objects.all().delete()
        return {k.split(".")[-1]: v for k, v in per_model.items() if v}

    def write(self, objs: list[models.Model], progress: Callable[[int], object]) -> int:
        for start in range(0, len(objs), BATCH):
            chunk = objs[start : start + BATCH]
            self.model.objects.bulk_create(chunk, batch_size=BATCH)
            progress(len(chunk))
        return len(objs)

    def summary_warnings(self) -> list[str]:
        out = list(self.warnings)
        for prop, n in sorted(self.mismatches.items()):
            out.append(
                f"{n} 个要素的 {prop} 与位置推算结果不一致,已按位置更正 "
                f"{n} features carried a {prop} that disagrees with their location; the location was used"
            )
        return out

    # -- helpers for subclasses --------------------------------------------------------------------
    def compare_derived(self, row: Row, prop: str, derived: str | None) -> None:
        given = row.values.get(prop)
        if given is not None and derived is not None and str(given) != derived:
            self.mismatches[prop] += 1

    def place(self, row: Row, need_community: bool, need_grid: bool) -> tuple[AdminUnit | None, str]:
        """Community and comprehensive grid code of a point feature or a footprint, from its location."""
        point = representative_point(row.geom)
        community = self.locator.community_at(point)
        if community is None and need_community:
            row.problems.append("不在任何社区范围内 not inside any community")
        grid_code = self.locator.grid_code_at(point)
        if grid_code is None:
            # A community not gridded yet (a city being onboarded, its grids still to be drawn) takes
            # its buildings without a grid; where grids exist, a point outside all of them is an error.
            gridded = community is None or community.code in self.locator.gridded_communities
            if need_grid and self.locator.has_grids and gridded:
                row.problems.append("不在任何综合网格内 not inside any comprehensive grid")
            grid_code = ""
        self.compare_derived(row, "community_code", community.code if community else None)
        self.compare_derived(row, "grid_code", grid_code or None)
        return community, grid_code


# ---------------------------------------------------------------------------------------------------
class AdminUnitMapping(LayerMapping):
    layer_id = "admin-units"
    family = "polygon"
    required = ("code", "name")
    label_keys = ("code", "name")
    check_city = False
    replace_help = (
        "按代码更新已有区划的名称和边界,其余新增(区划被所有图层引用,不删除) "
        "update units with the same code in place, add the others (units are never deleted)"
    )
    LEVELS = (AdminLevel.CITY, AdminLevel.DISTRICT, AdminLevel.STREET, AdminLevel.COMMUNITY)

    @staticmethod
    def infer_level(code: str) -> str | None:
        if len(code) == 12:
            return AdminLevel.COMMUNITY
        if len(code) == 9:
            return AdminLevel.STREET
        if len(code) == 6:
            return AdminLevel.CITY if code.endswith("00") else AdminLevel.DISTRICT
        return None

    @staticmethod
    def parent_code_of(code: str, level: str) -> str | None:
        if level == AdminLevel.COMMUNITY:
            return code[:9]
        if level == AdminLevel.STREET:
            return code[:6]
        if level == AdminLevel.DISTRICT:
            return code[:4] + "00"
        return None

    def build(self, row: Row) -> None:
        v = row.values
        code = v.get("code")
        if not code:
            return
        if not code.isdigit():
            row.problems.append(f"代码只能是数字 code must be digits: {code!r}")
            return
        level = v.get("level") or self.infer_level(code)
        if level is None:
            row.problems.append(f"无法由代码位数判断层级 code has {len(code)} digits (6, 9 or 12 expected)")
            return
        if len(code) != CODE_LENGTH[level]:
            row.problems.append(
                f"{level} 代码应为 {CODE_LENGTH[level]} 位 a {level} code has {CODE_LENGTH[level]} digits: "
                f"{code}"
            )
            return
        if level == AdminLevel.CITY and not code.endswith("00"):
            row.problems.append(f"市级代码应以 00 结尾 a city code ends in 00: {code}")
        if level == AdminLevel.DISTRICT and code.endswith("00"):
            row.problems.append(f"区县代码不能以 00 结尾 a district code cannot end in 00: {code}")
        rural = level == AdminLevel.COMMUNITY and int(code[9:12]) >= 200  # 200–399: villages
        row.obj = AdminUnit(
            code=code,
            name=v.get("name") or "",
            level=level,
            rural=rural,
            source=v.get("source") or "",
            geom=geos(row.geom),
        )

    def check_all(self, rows: list[Row]) -> None:
        in_file: dict[str, Row] = {}
        for row in rows:
            if row.obj is None:
                continue
            code = row.obj.code
            if code in in_file:
                row.problems.append(f"代码与第 {in_file[code].index} 个要素重复 duplicate code {code}")
                continue
            in_file[code] = row
            if code in self.locator.units and not self.options.replace:
                row.problems.append(f"代码 {code} 已存在 already exists (use --replace to update it)")
        # Parents before children, so that a child of a bad parent is known to be bad too.
        for row in sorted(rows, key=lambda r: self.LEVELS.index(r.obj.level) if r.obj else 0):
            if row.obj is None or row.problems:
                continue
            self._attach_parent(row, in_file)
        if self.options.repair:
            self._snap(rows, in_file)

    # Two offices digitise one line twice: vertices a few decimetres apart, a hairline overlap or gap
    # along the whole edge.  Within SNAP_M a unit's vertices are moved onto its earlier siblings' and
    # its parent's lines, and an overlap with an earlier sibling thinner than SNAP_M is cut off (the
    # first unit of the file keeps the line).  Wider overlaps and gaps are real and stay for the report.
    SNAP_M = 0.5

    def _snap(self, rows: list[Row], in_file: dict[str, Row]) -> None:
        siblings: dict[str | None, list[BaseGeometry]] = defaultdict(list)
        for row in rows:
            unit: AdminUnit | None = row.obj
            if unit is None or row.problems or unit.level == AdminLevel.CITY:
                continue
            parent = unit.parent.code if unit.parent else None
            earlier = siblings[parent]
            parent_geom = (
                (in_file[parent].geom if parent in in_file else self.locator.unit_geoms.get(parent))
                if parent
                else None
            )
            lines = [g.boundary for g in earlier] + (
                [parent_geom.boundary] if parent_geom is not None else []
            )
            geom = row.geom
            if lines:
                kx, ky = metres_per_degree(geom.centroid.y)
                snapped = shapely.make_valid(shapely.snap(geom, shapely.union_all(lines), self.SNAP_M / ky))
                if earlier:
                    taken = shapely.union_all(earlier)
                    over = snapped.intersection(taken)
                    area_m2 = over.area * kx * ky
                    # mean width of the overlap: area over half its perimeter
                    if area_m2 > 0 and area_m2 / max(over.length * (kx + ky) / 4, 1e-9) < self.SNAP_M:
                        snapped = shapely.make_valid(snapped.difference(taken))
                parts = [p for p in shapely.get_parts(snapped) if p.geom_type == "Polygon" and p.area > 0]
                snapped = shapely.MultiPolygon(parts) if parts else geom
                moved = shapely.hausdorff_distance(snapped, geom) * ky
                if moved >= 0.01:  # below a centimetre it is reprojection noise, not two lines
                    row.repairs.append(
                        f"边界已与相邻区划对齐（{self.SNAP_M:g} 米内，最大移动 {moved:.2f} 米） "
                        f"snapped to its neighbours' lines within {self.SNAP_M:g} m "
                        f"(moved at most {moved:.2f} m)"
                    )
                    row.geom = geom = snapped
                    unit.geom = geos(snapped)
            earlier.append(geom)

    def _attach_parent(self, row: Row, in_file: dict[str, Row]) -> None:
        unit: AdminUnit = row.obj
        given = row.values.get("parent_code")
        wanted = given or self.parent_code_of(unit.code, unit.level)
        if wanted is None:
            return
        if not unit.code.startswith(wanted[:4] if unit.level == AdminLevel.DISTRICT else wanted):
            row.problems.append(
                f"上级代码 {wanted} 不是本代码的前缀 parent code is not a prefix of {unit.code}"
            )
            return
        parent_row = in_file.get(wanted)
        if parent_row is not None and parent_row.problems:
            row.problems.append(
                f"上级要素第 {parent_row.index} 个有问题 its parent (feature {parent_row.index}) is bad"
            )
            return
        parent = parent_row.obj if parent_row else self.locator.units.get(wanted)
        if parent is None:
            if given or unit.level != AdminLevel.DISTRICT:  # a district may stand without a city unit
                row.problems.append(f"上级区划 {wanted} 不存在 parent unit not found")
            return
        expected = self.LEVELS[self.LEVELS.index(unit.level) - 1]
        if parent.level != expected:
            row.problems.append(
                f"上级 {wanted} 是 {parent.level},应为 {expected} parent must be a {expected}"
            )
            return
        parent_geom = parent_row.geom if parent_row else self.locator.unit_geoms.get(wanted)
        if parent_geom is not None and not parent_geom.covers(representative_point(row.geom)):
            row.problems.append(f"不在上级区划 {wanted} 范围内 not inside its parent unit")
            return
        unit.parent = parent

    def replace(self, objs: list[models.Model]) -> dict[str, int]:
        return {}  # units with the same code are updated in place by write()

    def write(self, objs: list[models.Model], progress: Callable[[int], object]) -> int:
        existing = {u.code: u for u in AdminUnit.objects.filter(code__in=[o.code for o in objs])}
        for level in self.LEVELS:
            new, changed = [], []
            for obj in (o for o in objs if o.level == level):
                old = existing.get(obj.code)
                if old is None:
                    new.append(obj)
                    continue
                old.name, old.level, old.rural, old.geom = obj.name, obj.level, obj.rural, obj.geom
                old.source = obj.source
                old.parent = existing.get(obj.parent.code, obj.parent) if obj.parent else old.parent
                changed.append(old)
            for obj in new:
                if obj.parent is not None and obj.parent.code in existing:
                    obj.parent = existing[obj.parent.code]
            AdminUnit.objects.bulk_create(new, batch_size=BATCH)
            AdminUnit.objects.bulk_update(
                changed, ["name", "level", "rural", "source", "geom", "parent"], batch_size=BATCH
            )
            self.updated += len(changed)
            existing.update({o.code: o for o in new})
            progress(len(new) + len(changed))
        return len(objs)


# ---------------------------------------------------------------------------------------------------
GRID_CODE = re.compile(r"^\d{15}$")


class GridMapping(LayerMapping):
    layer_id = "grids"
    family = "polygon"
    required = ("code", "name")
    derived = ("community_code",)
    label_keys = ("code", "name")
    replace_help = (
        "替换该网当前版本的网格(旧版本的网格保留为历史) "
        "replace the grids of the net's current generation (earlier generations stay as history)"
    )
    # Share of a grid's area allowed outside its community (slivers from a different digitisation).
    OUTSIDE_TOLERANCE = 0.01

    def prepare(self, matched: dict[str, str]) -> None:
        self.nets = {n.code: n for n in Net.objects.all()}
        if self.options.net:
            if self.options.net not in self.nets:
                raise LayerIOError(
                    f"网 {self.options.net!r} 不存在 no such net; 可选 choose one of: "
                    f"{', '.join(self.nets) or '(none)'}"
                )
        elif "net" not in matched:
            raise LayerIOError(
                "请用 --net 指定导入到哪个网 give --net (e.g. comprehensive), 或在文件中提供 net 字段 "
                "or a net column"
            )
        self.in_force = Generation.in_force()
        self.new_generation: set[int] = set()  # nets that get their first generation from this import
        self.net_overridden = 0
        self.default_kind = {}
        # A file without a kind column gets the kind most grids of the net have (police grids: police).
        counts = Grid.objects.values("net_id", "kind").annotate(n=models.Count("id")).order_by("net_id", "-n")
        for row in counts:
            self.default_kind.setdefault(row["net_id"], row["kind"])

    def summary_warnings(self) -> list[str]:
        out = super().summary_warnings()
        if self.net_overridden:
            out.append(
                f"{self.net_overridden} 个要素的 net 字段与 --net 不同,已按 --net 导入 "
                f"{self.net_overridden} features named another net; they were imported into --net"
            )
        return out

    def generation_of(self, net: Net) -> int | None:
        if net.id in self.in_force and self.options.new_generation:
            self.new_generation.add(net.id)
            return self.in_force[net.id] + 1
        if net.id in self.in_force:
            return self.in_force[net.id]
        if net.id in self.new_generation or not Generation.objects.filter(net=net).exists():
            self.new_generation.add(net.id)
            return 1
        return None

    def build(self, row: Row) -> None:
        v = row.values
        net_code = self.options.net or v.get("net")
        if not net_code:
            row.problems.append("缺少必填属性 missing required attribute 'net'")
            return
        if self.options.net and v.get("net") and v["net"] != self.options.net:
            self.net_overridden += 1
        net = self.nets.get(net_code)
        if net is None:
            row.problems.append(f"网 {net_code!r} 不存在 no such net")
            return
        number = self.generation_of(net)
        if number is None:
            row.problems.append(f"网 {net_code} 没有生效的边界版本 the net has no generation in force")
            return
        code = v.get("code")
        if not code:
            return
        community = None
        if net.follows_communities:
            if not GRID_CODE.match(code):
                row.problems.append(f"网格编码应为 15 位数字 a grid code is 15 digits: {code!r}")
                return
            community = self.locator.units.get(code[:12])
            if community is None or community.level != AdminLevel.COMMUNITY:
                row.problems.append(
                    f"编码前 12 位不是已有社区 code does not start with a community code: {code[:12]}"
                )
                return
            if v.get("community_code") and v["community_code"] != community.code:
                row.problems.append(
                    f"community_code {v['community_code']} 与编码 {code} 不符 does not match the grid code"
                )
                return
            outside = row.geom.difference(self.locator.unit_geoms[community.code]).area
            if outside > self.OUTSIDE_TOLERANCE * row.geom.area:
                row.problems.append(
                    f"网格有 {outside / row.geom.area:.0%} 面积在社区 {community.code} 之外 "
                    "of the grid lies outside its community"
                )
                return
            district = self.locator.district_of(community)
        else:
            district = self.locator.district_at(representative_point(row.geom))
        if district is None:
            row.problems.append("不在任何区县内 not inside any district")
            return
        target = v.get("target_households")
        if target is None:
            target = 100 if community is not None and community.rural else 200
        row.obj = Grid(
            net=net,
            code=code,
            name=v.get("name") or "",
            kind=v.get("kind") or self.default_kind.get(net.id, GridKind.STANDARD),
            community=community,
            district=district,
            target_households=target,
            generation_low=number,
            generation_high=None,
            geom=geos(row.geom),
        )

    def _current(self, net_id: int) -> models.QuerySet:
        number = self.in_force.get(net_id)
        if number is None:
            return Grid.objects.none()
        return Grid.objects.filter(net_id=net_id, generation_low__lte=number).filter(
            models.Q(generation_high__isnull=True) | models.Q(generation_high__gte=number)
        )

    def check_all(self, rows: list[Row]) -> None:
        seen: dict[tuple[int, str], Row] = {}
        existing: dict[int, set[str]] = {}
        for row in rows:
            grid: Grid | None = row.obj
            if grid is None:
                continue
            key = (grid.net_id, grid.code)
            if key in seen:
                row.problems.append(f"编码与第 {seen[key].index} 个要素重复 duplicate grid code {grid.code}")
                continue
            seen[key] = row
            if self.options.replace:
                continue
            if grid.net_id not in existing:
                existing[grid.net_id] = set(self._current(grid.net_id).values_list("code", flat=True))
            if grid.code in existing[grid.net_id]:
                row.problems.append(
                    f"当前版本已有网格 {grid.code} already in the current generation (use --replace)"
                )

    def replace(self, objs: list[models.Model]) -> dict[str, int]:
        """Only the nets in the file, only their current generation; earlier rows are closed, not lost."""
        counts: dict[str, int] = {}
        for net_id in sorted({o.net_id for o in objs} - self.new_generation):
            number = self.in_force[net_id]
            current = self._current(net_id)
            code = next(n.code for n in self.nets.values() if n.id == net_id)
            deleted, _ = current.filter(generation_low=number).delete()
            closed = current.filter(generation_low__lt=number).update(generation_high=number - 1)
            counts[f"Grid ({code} #{number}, deleted)"] = deleted
            counts[f"Grid ({code}, closed at #{number - 1})"] = closed
        return {k: v for k, v in counts.items() if v}

    def write(self, objs: list[models.Model], progress: Callable[[int], object]) -> int:
        for net in self.nets.values():
            if net.id in self.new_generation and any(o.net_id == net.id for o in objs):
                # the grids in force elsewhere (their generation_high is open) stay in force in it
                number = self.in_force.get(net.id, 0) + 1
                Generation.objects.filter(net=net, number=number - 1).update(
                    status=GenerationStatus.SUPERSEDED
                )
                Generation.objects.create(
                    net=net,
                    number=number,
                    status=GenerationStatus.PUBLISHED,
                    effective_from=database_now(),
                    note="onboarding" if self.options.new_generation else "import_layer",
                )
                self.warnings.append(
                    f"已为网 {net.code} 发布第 {number} 版边界 "
                    f"published generation {number} of net {net.code}"
                )
        return super().write(objs, progress)


# ---------------------------------------------------------------------------------------------------
class RoadLinker:
    """Links buildings to the road their address names: the nearest road of that name."""

    def __init__(self) -> None:
        self.by_name: dict[str, list[tuple[int, BaseGeometry]]] = defaultdict(list)
        for pk, name, geom in Road.objects.values_list("pk", "name", "geom"):
            self.by_name[name].append((pk, shapely.from_wkb(bytes(geom.wkb))))

    def road_id(self, name: str, point: BaseGeometry) -> int | None:
        candidates = self.by_name.get(name)
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0][0]
        return min(candidates, key=lambda c: c[1].distance(point))[0]


def door_number(value: str | None) -> str:
    """A door number as the register and the geocoder keep it: "27", "27-1" (a file's "27号" too)."""
    return (value or "").strip().removesuffix("号")


def compose_address(community: AdminUnit, units: dict[str, AdminUnit], v: dict[str, Any]) -> str:
    """The standard address (GB/T 39609) when a file has none: 区 + 街道 + 社区 + 路 + 门牌 + 小区 + 楼栋."""
    chain = [units.get(community.code[:6]), units.get(community.code[:9]), community]
    parts = [u.name for u in chain if u is not None]
    door = v["door_number"]
    parts += [v["road"], door if door.endswith("号") else door + "号", v.get("estate") or ""]
    number = v.get("building_number") or ""
    if number and not re.search(r"[楼栋幢座]$", number):
        number += "号楼"
    return "".join(parts) + number


class BuildingMapping(LayerMapping):
    layer_id = "buildings"
    family = "polygon"
    required = ("use", "road", "door_number")
    derived = ("grid_code", "community_code")
    label_keys = ("address", "door_number")
    replace_help = (
        "先删除全部楼栋及其中的户室和人口 delete all buildings first, with their house units and residents"
    )

    def __init__(self, spec: LayerSpec, locator: Locator, options: MappingOptions) -> None:
        super().__init__(spec, locator, options)
        if options.addresses_later:
            self.required = ("use",)

    def prepare(self, matched: dict[str, str]) -> None:
        self.roads = RoadLinker()
        if not self.locator.communities.geoms:
            raise LayerIOError(
                "数据库中还没有社区,请先导入行政区划 no communities yet: import admin-units first"
            )
        if not self.locator.has_grids:
            self.warnings.append(
                "数据库中没有综合网格,grid_code 留空 no comprehensive grids: grid_code left blank"
            )

    def build(self, row: Row) -> None:
        v = row.values
        community, grid_code = self.place(row, need_community=True, need_grid=True)
        if community is None or not all(v.get(k) for k in self.required):
            return
        addressed = v.get("road") and v.get("door_number")
        address = v.get("address") or (compose_address(community, self.locator.units, v) if addressed else "")
        if len(address) > 160:
            row.problems.append("地址超过 160 个字符 the composed address is longer than 160 characters")
            return
        point = representative_point(row.geom)
        row.obj = Building(
            community=community,
            grid_code=grid_code,
            road_name=v.get("road") or "",
            door_number=door_number(v.get("door_number")),
            road_id=self.roads.road_id(v["road"], point) if v.get("road") else None,
            estate=v.get("estate") or "",
            building_number=v.get("building_number") or "",
            address=address,
            use=v["use"],
            floors=v.get("floors") or 1,
            code=v.get("code") or "",
            source=v.get("source") or "",
            geom=geos(row.geom),
        )

    def replace(self, objs: list[models.Model]) -> dict[str, int]:
        # Raw deletes: Django's collector would load every house unit and resident into memory first.
        # What rooms above point at a building and survives it (a case's building, SET_NULL) is unlinked
        # first, found through the model's relations so that this room imports none of them.
        counts = {}
        for rel in Building._meta.related_objects:
            if rel.on_delete is models.SET_NULL:
                name = rel.field.name
                linked = rel.related_model.objects.filter(**{f"{name}__isnull": False})
                unlinked = linked.update(**{name: None})
                counts[f"{rel.related_model._meta.model_name}.{name} → NULL"] = unlinked
        with connection.cursor() as cur:
            for model in (Resident, HouseUnit, Address, Building):
                cur.execute(f'DELETE FROM "{model._meta.db_table}"')
                counts[model.__name__] = cur.rowcount
        return {k: v for k, v in counts.items() if v}


# ---------------------------------------------------------------------------------------------------
class RoadMapping(LayerMapping):
    layer_id = "roads"
    family = "line"
    required = ("name", "kind")
    label_keys = ("name",)
    replace_help = (
        "先删除全部道路,导入后按路名重新关联楼栋 delete all roads first; buildings are re-linked by road name"
    )

    def build(self, row: Row) -> None:
        v = row.values
        if not (v.get("name") and v.get("kind")):
            return
        district = self.locator.district_at(representative_point(row.geom))
        row.obj = Road(name=v["name"], kind=v["kind"], district=district, geom=geos(row.geom))

    def replace(self, objs: list[models.Model]) -> dict[str, int]:
        unlinked = Building.objects.filter(road__isnull=False).update(road=None)
        counts = super().replace(objs)
        return {"building.road → NULL": unlinked, **counts} if unlinked else counts

    def write(self, objs: list[models.Model], progress: Callable[[int], object]) -> int:
        n = super().write(objs, progress)
        if self.options.replace:
            linker = RoadLinker()
            updates = []
            rows = Building.objects.filter(road__isnull=True).values_list("pk", "road_name", "point")
            for pk, name, point in rows.iterator(chunk_size=5000):
                road_id = linker.road_id(name, shapely.from_wkb(bytes(point.wkb)))
                if road_id is not None:
                    updates.append((pk, road_id))
            table = Building._meta.db_table
            with connection.cursor() as cur:
                for start in range(0, len(updates), 5000):
                    chunk = updates[start : start + 5000]
                    cur.execute(
                        f'UPDATE "{table}" b SET road_id = v.road FROM (SELECT unnest(%s::bigint[]) AS id, '
                        f"unnest(%s::bigint[]) AS road) v WHERE b.id = v.id",
                        [[u[0] for u in chunk], [u[1] for u in chunk]],
                    )
            self.warnings.append(
                f"{len(updates)} 栋楼按路名重新关联道路 buildings re-linked to roads by name"
            )
        return n


class _AreaMapping(LayerMapping):
    family = "polygon"
    required = ("kind",)
    label_keys = ("name",)

    def build(self, row: Row) -> None:
        v = row.values
        if not v.get("kind"):
            return
        row.obj = self.model(name=v.get("name") or "", kind=v["kind"], geom=geos(row.geom))


class WaterMapping(_AreaMapping):
    layer_id = "water"


class GreenMapping(_AreaMapping):
    layer_id = "green"


# ---------------------------------------------------------------------------------------------------
class ServiceStationMapping(LayerMapping):
    layer_id = "service-stations"
    family = "point"
    required = ("name", "kind")
    derived = ("grid_code",)
    label_keys = ("name", "address")

    def build(self, row: Row) -> None:
        v = row.values
        community, grid_code = self.place(row, need_community=False, need_grid=False)
        if not (v.get("name") and v.get("kind")):
            return
        row.obj = ServiceStation(
            name=v["name"],
            kind=v["kind"],
            hours=v.get("hours") or "",
            phone=v.get("phone") or "",
            is_public=True if v.get("is_public") is None else v["is_public"],
            address=v.get("address") or "",
            community=community,
            grid_code=grid_code,
            geom=geos(row.geom),
        )


class PartyOrganisationMapping(LayerMapping):
    layer_id = "party-organisations"
    family = "point"
    required = ("name", "kind")
    derived = ("grid_code", "community_code")
    label_keys = ("name", "address")

    def prepare(self, matched: dict[str, str]) -> None:
        if not self.locator.communities.geoms:
            raise LayerIOError(
                "数据库中还没有社区,请先导入行政区划 no communities yet: import admin-units first"
            )

    def build(self, row: Row) -> None:
        v = row.values
        community, grid_code = self.place(row, need_community=True, need_grid=True)
        if community is None or not (v.get("name") and v.get("kind")):
            return
        row.obj = PartyOrganisation(
            name=v["name"],
            kind=v["kind"],
            members=v.get("members") or 0,
            address=v.get("address") or "",
            community=community,
            grid_code=grid_code,
            geom=geos(row.geom),
        )

    def replace(self, objs: list[models.Model]) -> dict[str, int]:
        PartyOrganisation.objects.update(parent=None)  # the hierarchy is not carried by files
        return super().replace(objs)


MAPPINGS: dict[str, type[LayerMapping]] = {
    m.layer_id: m
    for m in (
        AdminUnitMapping,
        GridMapping,
        BuildingMapping,
        RoadMapping,
        WaterMapping,
        GreenMapping,
        ServiceStationMapping,
        PartyOrganisationMapping,
    )
}
