"""The table layers of a handover folder: the address register, house units and last year's cases.

These come as CSV or Excel sheets without geometry.  An address row is joined to its building by the
office's building number (`building_code` ← 楼栋编码, the `code` the buildings file carried) or, failing
that, by the building's standard address; a house unit by building number or address the same way; a
case is placed by its coordinates or, more often, by the geocoder from the address an operator typed.
Every row that cannot be joined or placed is reported with its row number and why; the rest load.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import shapely
from django.db import connection
from django.utils import timezone

from layers.io.errors import LayerIOError
from layers.io.fields import match_columns as match_aliases
from layers.io.mappings import RoadLinker, door_number
from layers.models import Address, Building, HouseUnit

from .manifest import Entry

# our field → the column names offices use for it (matched case-insensitively, after `fields`)
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "addresses": {
        "address": ("address", "标准地址", "地址", "门楼牌地址"),
        "building_code": ("building_code", "楼栋编码", "建筑物编码", "楼栋编号"),
        "road": ("road", "街路巷", "路名", "道路"),
        "door_number": ("door_number", "门牌号", "门牌", "门楼牌号"),
        "code": ("code", "地址编码", "地址编号"),
        "source": ("source", "数据来源", "来源"),
    },
    "house-units": {
        "building_code": ("building_code", "楼栋编码", "建筑物编码", "楼栋编号"),
        "address": ("address", "楼栋地址", "标准地址", "地址"),
        "unit": ("unit", "单元", "单元号"),
        "floor": ("floor", "楼层", "所在层"),
        "room": ("room", "户室", "房号", "室号"),
        "households": ("households", "户数"),
        "residents": ("residents", "人数", "常住人口"),
        "source": ("source", "数据来源", "来源"),
    },
    "cases": {
        "id": ("id", "工单编号", "编号", "案件编号"),
        "category": ("category", "类别", "案件类别", "诉求类别"),
        "address": ("address", "地址", "事发地址", "诉求地址"),
        "lon": ("lon", "经度", "longitude"),
        "lat": ("lat", "纬度", "latitude"),
        "crs": ("crs", "坐标系"),
        "description": ("description", "诉求内容", "描述", "内容"),
        "reported_at": ("reported_at", "受理时间", "上报时间", "来电时间"),
        "closed_at": ("closed_at", "办结时间", "结案时间"),
    },
}
REQUIRED = {"addresses": ("address",), "house-units": ("room",), "cases": ("category",)}
TABLE_LAYERS = tuple(COLUMNS)


@dataclass
class TableResult:
    read: int = 0
    loaded: int = 0
    rejected: list[dict] = field(default_factory=list)
    repaired: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    loaded_ids: list[int] = field(default_factory=list)

    def reject(self, file: str, row: int, reason: str, rid: str = "") -> None:
        self.rejected.append({"file": file, "row": row, "id": rid, "reason": reason})


def _decode(raw: bytes, declared: str | None) -> tuple[str, str]:
    """CSV text and how its encoding was found: declared, UTF-8 (with or without BOM), else GB18030 —
    the superset of GBK that Excel on a Chinese Windows writes."""
    if declared:
        try:
            return raw.decode(declared), f"{declared} (declared)"
        except (LookupError, UnicodeDecodeError) as exc:
            raise LayerIOError(f"无法按 {declared} 解码 cannot decode as {declared}: {exc}") from None
    try:
        return raw.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="strict"), "GB18030 (guessed: not UTF-8)"


def read_rows(entry: Entry) -> tuple[list[str], Iterator[tuple[int, list[str]]], dict]:
    """Header, (row number, cells) and what was detected, for a .csv or an .xlsx sheet."""
    suffix = entry.path.suffix.lower()
    if suffix == ".csv":
        text, how = _decode(entry.path.read_bytes(), entry.encoding)
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            raise LayerIOError("表格为空 the table is empty")
        cells = ((n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r))
        return [c.strip() for c in rows[0]], cells, {"driver": "CSV", "encoding": how}
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            book = openpyxl.load_workbook(entry.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise LayerIOError(f"无法读取 Excel 文件 cannot read the workbook: {exc}") from None
        if entry.source_layer and entry.source_layer not in book.sheetnames:
            raise LayerIOError(
                f"没有工作表 no sheet named {entry.source_layer!r} ({', '.join(book.sheetnames)})"
            )
        sheet = book[entry.source_layer] if entry.source_layer else book.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = next(values, None)
        if header is None:
            raise LayerIOError("表格为空 the table is empty")

        def text(v: object) -> str:
            if v is None:
                return ""
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else str(v)

        cells = (
            (n, [text(v) for v in r]) for n, r in enumerate(values, start=2) if any(v is not None for v in r)
        )
        return [text(c).strip() for c in header], cells, {"driver": "XLSX", "sheet": sheet.title}
    raise LayerIOError(f"表格应为 .csv 或 .xlsx a table must be .csv or .xlsx: {entry.path.name}")


def match_columns(layer: str, header: list[str], fields: dict[str, str]) -> dict[str, int]:
    """our field → column index: the manifest's `fields` first, then the usual names."""
    known = COLUMNS[layer]
    lower = {c.lower(): i for i, c in enumerate(header)}
    out: dict[str, int] = {}
    for ours, theirs in fields.items():
        if ours not in known:
            raise LayerIOError(
                f"图层 {layer} 没有字段 {ours!r} the layer has no field {ours!r} (known: {', '.join(known)})"
            )
        if theirs.lower() not in lower:
            raise LayerIOError(
                f"表格中没有列 {theirs!r} the table has no column {theirs!r} (columns: {', '.join(header)})"
            )
        out[ours] = lower[theirs.lower()]
    free = [c for i, c in enumerate(header) if i not in set(out.values())]
    guessed, _ = match_aliases(free, {k: v for k, v in known.items() if k not in out})
    out.update({ours: header.index(column) for ours, column in guessed.items()})
    missing = [f for f in REQUIRED[layer] if f not in out]
    if layer in ("addresses", "house-units") and "building_code" not in out and "address" not in out:
        missing.append("building_code|address")
    if layer == "cases" and "address" not in out and not {"lon", "lat"} <= set(out):
        missing.append("address|lon+lat")
    if missing:
        raise LayerIOError(
            f"表格缺少必填列 the table lacks required columns: {', '.join(missing)} "
            f"(columns: {', '.join(header)})"
        )
    return out


def _values(cells: list[str], columns: dict[str, int]) -> dict[str, str]:
    return {k: (cells[i].strip() if i < len(cells) else "") for k, i in columns.items()}


class Buildings:
    """The buildings a table may join to: by the office's building number, or by standard address."""

    def __init__(self, communities: list[int] | None) -> None:
        qs = Building.objects.all()
        if communities:
            qs = qs.filter(community_id__in=communities)
        self.by_code: dict[str, int] = {}
        self.by_address: dict[str, int] = {}
        for pk, code, address in qs.values_list("pk", "code", "address"):
            if code:
                self.by_code.setdefault(code, pk)
            if address:
                self.by_address.setdefault(_key(address), pk)
        for pk, address in Address.objects.filter(building__in=qs).values_list("building_id", "address"):
            self.by_address.setdefault(_key(address), pk)

    def find(self, v: dict[str, str]) -> int | None:
        if v.get("building_code"):
            return self.by_code.get(v["building_code"])
        return self.by_address.get(_key(v.get("address", "")))


def _key(address: str) -> str:
    return "".join(address.split())


def _int(value: str, default: int, low: int, high: int) -> int:
    if not value:
        return default
    n = int(float(value))  # Excel writes 3 as 3.0
    if not low <= n <= high:
        raise ValueError(f"{n} not in {low}..{high}")
    return n


def load_addresses(
    entry: Entry, communities: list[int] | None, progress: Callable[[int], None]
) -> TableResult:
    """Register rows joined to their buildings; the first address of a building without one becomes its
    standard address (road, door number and road link with it)."""
    header, rows, info = read_rows(entry)
    columns = match_columns("addresses", header, entry.fields)
    buildings = Buildings(communities)
    roads = RoadLinker()
    result = TableResult(info={"file": entry.path.name, **info})
    seen: dict[tuple[int, str], int] = {}
    out: list[Address] = []
    for n, cells in rows:
        result.read += 1
        progress(1)
        v = _values(cells, columns)
        if not v.get("address"):
            result.reject(entry.path.name, n, "缺少标准地址 the address is empty", v.get("code", ""))
            continue
        if len(v["address"]) > 160:
            result.reject(entry.path.name, n, "地址超过 160 字 the address is longer than 160 characters")
            continue
        pk = buildings.find(v)
        if pk is None:
            key = f"building_code={v['building_code']}" if v.get("building_code") else "address"
            result.reject(
                entry.path.name, n, f"没有对应的楼栋 matches no building ({key})", v.get("code", "")
            )
            continue
        first = seen.get((pk, _key(v["address"])))
        if first is not None:
            result.repaired.append(
                {
                    "file": entry.path.name,
                    "row": n,
                    "id": v.get("code", ""),
                    "how": f"与第 {first} 行重复，已略去 duplicate of row {first}, dropped",
                }
            )
            continue
        seen[(pk, _key(v["address"]))] = n
        out.append(
            Address(
                building_id=pk,
                code=v.get("code", "")[:32],
                address=v["address"],
                road_name=v.get("road", "")[:32],
                door_number=door_number(v.get("door_number"))[:16],
                source=v.get("source", "")[:32],
            )
        )
    Address.objects.bulk_create(out, batch_size=2000)
    result.loaded = len(out)
    # A building without an address of its own takes its first register address.
    firsts: dict[int, Address] = {}
    for a in out:
        firsts.setdefault(a.building_id, a)
    blank = Building.objects.filter(pk__in=list(firsts), address="").only("pk", "point")
    changed = []
    for b in blank:
        a = firsts[b.pk]
        b.address, b.road_name, b.door_number = a.address, a.road_name, a.door_number
        b.road_id = roads.road_id(a.road_name, shapely.Point(b.point.x, b.point.y)) if a.road_name else None
        changed.append(b)
    Building.objects.bulk_update(changed, ["address", "road_name", "door_number", "road"], batch_size=2000)
    return result


def load_house_units(
    entry: Entry, communities: list[int] | None, progress: Callable[[int], None]
) -> TableResult:
    """House units joined to their buildings; a building with units takes their household and resident
    totals (the grid assistant sizes grids by them)."""
    header, rows, info = read_rows(entry)
    columns = match_columns("house-units", header, entry.fields)
    buildings = Buildings(communities)
    result = TableResult(info={"file": entry.path.name, **info})
    existing = set(
        HouseUnit.objects.filter(
            building_id__in=set(buildings.by_code.values()) | set(buildings.by_address.values())
        ).values_list("building_id", "unit", "room")
    )
    seen: dict[tuple[int, int, str], int] = {}
    out: list[HouseUnit] = []
    for n, cells in rows:
        result.read += 1
        progress(1)
        v = _values(cells, columns)
        pk = buildings.find(v)
        if pk is None:
            key = (
                f"building_code={v['building_code']}"
                if v.get("building_code")
                else f"address={v.get('address')}"
            )
            result.reject(entry.path.name, n, f"没有对应的楼栋 matches no building ({key})")
            continue
        if not v.get("room"):
            result.reject(entry.path.name, n, "缺少户室号 the room is empty")
            continue
        try:
            unit = _int(v.get("unit", ""), 1, 0, 999)
            floor = _int(v.get("floor", ""), 1, -9, 300)
            households = _int(v.get("households", ""), 1, 0, 999)
            residents = _int(v.get("residents", ""), 0, 0, 999)
        except ValueError as exc:
            result.reject(entry.path.name, n, f"数值无效 a number is invalid: {exc}")
            continue
        key = (pk, unit, v["room"][:16])
        if key in existing:
            result.reject(entry.path.name, n, "该户室已存在 the house unit already exists")
            continue
        if key in seen:
            result.reject(
                entry.path.name, n, f"与第 {seen[key]} 行为同一户室 the same unit as row {seen[key]}"
            )
            continue
        seen[key] = n
        out.append(
            HouseUnit(
                building_id=pk,
                unit=unit,
                floor=floor,
                room=key[2],
                households=households,
                residents=residents,
                source=v.get("source", "")[:32],
            )
        )
    HouseUnit.objects.bulk_create(out, batch_size=5000)
    result.loaded = len(out)
    with connection.cursor() as cur:
        cur.execute(
            """update layers_building b set households = t.h, residents = t.r
               from (select building_id, sum(households) h, sum(residents) r from layers_houseunit
                     where building_id = any(%s) group by building_id) t
               where b.id = t.building_id""",
            [sorted({u.building_id for u in out})],
        )
    return result


def _when(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise ValueError(f"时间无法识别 cannot read the time {value!r}") from None
    return timezone.make_aware(when) if timezone.is_naive(when) else when


def load_cases(entry: Entry, key_prefix: str, progress: Callable[[int], None]) -> TableResult:
    """Last year's cases filed through the case loop's own intake (validation, placement, numbering), one
    idempotency key per row, then given their real report (and closing) times.  A case the geocoder
    cannot place confidently still loads, marked to be placed by a dispatcher, and is listed."""
    from cases.errors import CaseError
    from cases.models import Case, Category
    from cases.models.case import CaseStatus, Channel
    from cases.services import create_case

    header, rows, info = read_rows(entry)
    columns = match_columns("cases", header, entry.fields)
    result = TableResult(info={"file": entry.path.name, **info})
    result.info["unplaced"] = []
    # a hotline export names its categories (暴露垃圾) where our API takes codes (SJ0101)
    named = {
        n: c
        for c, n, e in Category.objects.filter(parent__isnull=False).values_list("code", "name", "name_en")
    }
    named.update(
        {
            e.lower(): c
            for c, e in Category.objects.filter(parent__isnull=False).values_list("code", "name_en")
            if e
        }
    )
    for n, cells in rows:
        result.read += 1
        progress(1)
        v = _values(cells, columns)
        rid = v.get("id", "")
        category = v.get("category", "")
        category = named.get(category, named.get(category.lower(), category))
        data: dict = {"category": category, "description": v.get("description", "")}
        if v.get("lon") or v.get("lat"):
            data["location"] = {"lon": v.get("lon"), "lat": v.get("lat"), "crs": v.get("crs") or None}
        else:
            data["address"] = v.get("address", "")
        try:
            reported, closed = _when(v.get("reported_at", "")), _when(v.get("closed_at", ""))
            made = create_case(data, None, Channel.HOTLINE, f"{key_prefix}:{rid or n}"[:100])
        except (CaseError, ValueError) as exc:
            reason = f"{exc.zh} {exc.en}" if isinstance(exc, CaseError) else str(exc)
            result.reject(entry.path.name, n, reason, rid)
            continue
        case = made.case
        if made.created and (reported or closed):
            update: dict = {}
            if reported:
                update.update(reported_at=reported, step_started_at=reported)
            if closed:
                update.update(status=CaseStatus.CLOSED, closed_at=closed, deadline=None)
            Case.objects.filter(pk=case.pk).update(**update)
        result.loaded += 1
        result.loaded_ids.append(case.pk)
        if case.needs_placement:
            result.info["unplaced"].append(
                {"file": entry.path.name, "row": n, "id": rid, "case": case.number, "address": case.address}
            )
    return result
