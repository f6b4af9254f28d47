"""Forward geocoding of many queries at once: validate, normalise, parse, match, score, place in grids.

`geocode_many` is the one entry point: the API calls it with one query, the batch jobs and the
management command with thousands.  Personal data never enters: only buildings' standard addresses,
house-unit numbers (to confirm a room exists) and grids are read — never residents.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.db import connection

from layers.models import Generation

from . import crs as crsmod
from . import gazetteer
from .match import (
    MAX_CANDIDATES,
    Candidate,
    confidence_of,
    fetch_buildings,
    fuzzy_names,
    prefilter,
    score_building,
    verify_rooms,
)
from .normalize import normalize
from .parse import Parsed, parse

MAX_QUERY_CHARS = 200
_FORBIDDEN = re.compile(r"[;'\"`<>=\\{}$|]|--|/\*|\*/")
_CJK = re.compile(r"[\u3400-\u9fff]")
LEVEL_ORDER = {
    "room": 0,
    "building": 1,
    "door": 2,
    "road": 3,
    "community": 4,
    "street": 5,
    "district": 6,
    "city": 7,
}


class InvalidQuery(ValueError):
    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en


def validate(q: object) -> str:
    """The query stripped, or InvalidQuery with a reason: empty, too long, control characters, emoji,
    code-like characters (quotes, semicolons, comment marks) or nothing that could be an address."""
    if not isinstance(q, str) or not q.strip():
        raise InvalidQuery("地址不能为空", "the address is empty")
    q = q.strip()
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidQuery(
            f"地址过长（{len(q)} 字，最多 {MAX_QUERY_CHARS} 字）",
            f"the address is too long ({len(q)} characters, at most {MAX_QUERY_CHARS})",
        )
    for ch in q:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise InvalidQuery(
                "地址含有控制字符或无效字符", "the address contains control or invalid characters"
            )
        if cat == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF:
            raise InvalidQuery(
                "地址含有表情符号等非地址字符", f"the address contains a symbol or emoji ({ch!r})"
            )
    bad = _FORBIDDEN.search(q)
    if bad:
        raise InvalidQuery(
            f"地址含有不允许的字符“{bad.group(0)}”（引号、分号、注释符等不是地址的一部分）",
            f"the address contains a character that is not part of an address: {bad.group(0)!r}",
        )
    if not _CJK.search(q) and not re.search(r"\d", q):
        raise InvalidQuery("地址中没有汉字或门牌号", "the address contains no Chinese characters or numbers")
    return q


@dataclass
class Result:
    query: str
    normalized: str
    candidates: list[dict]
    reason: dict | None = None
    error: dict | None = None
    found: int = 0  # candidates before the limit cut them

    def as_dict(self) -> dict:
        out = {"query": self.query, "normalized": self.normalized, "candidates": self.candidates}
        if self.reason:
            out["reason"] = self.reason
        return out


# ---------------------------------------------------------------- grids (shared with reverse)
def current_generations(at=None) -> tuple[list[int], list[int]]:
    """(net ids, generation numbers) in force at `at` (now by default): the boundaries of that day."""
    pairs = Generation.in_force(at)
    return list(pairs.keys()), list(pairs.values())


@dataclass(frozen=True, slots=True)
class GridHit:
    net: str
    code: str
    follows_communities: bool
    community_id: int | None
    district_id: int


def grids_at(points: list[tuple[float, float]], at=None) -> list[list[GridHit]]:
    """For each CGCS2000 point: every grid in force that intersects it (boundaries included), sorted by
    net then code."""
    out: list[list[GridHit]] = [[] for _ in points]
    if not points:
        return out
    nets, nums = current_generations(at)
    with connection.cursor() as cur:
        cur.execute(
            """
            select p.i, n.code, g.code, n.follows_communities, g.community_id, g.district_id
            from unnest(%s::int[], %s::float8[], %s::float8[]) p(i, x, y)
            join layers_grid g on st_intersects(g.geom, st_setsrid(st_makepoint(p.x, p.y), 4490))
            join unnest(%s::int[], %s::int[]) cur(net_id, num)
              on cur.net_id = g.net_id and g.generation_low <= cur.num
             and (g.generation_high is null or g.generation_high >= cur.num)
            join layers_net n on n.id = g.net_id
            order by p.i, n.ordering, n.code, g.code
            """,
            [list(range(len(points))), [p[0] for p in points], [p[1] for p in points], nets, nums],
        )
        for i, *hit in cur.fetchall():
            out[i].append(GridHit(*hit))
    return out


def pick_grids(hits: list[GridHit]) -> tuple[GridHit | None, dict[str, str]]:
    """THE boundary rule (documented in docs/geocoding.md): in every net, the grid with the smallest code
    among those that ST_Intersects the point; the building grid (`grid_code`) is the smallest such code
    among the nets that partition communities (comprehensive and dedicated) — a building's grid in the
    sense of Building.grid_code.  A point inside one grid intersects only it, so the rule matters only on
    shared edges and corners, where it gives one answer every time."""
    grids: dict[str, str] = {}
    chosen: GridHit | None = None
    for h in hits:
        if h.net not in grids or h.code < grids[h.net]:
            grids[h.net] = h.code
        if h.follows_communities and (chosen is None or h.code < chosen.code):
            chosen = h
    return chosen, grids


# ---------------------------------------------------------------- area answers
def _area_candidates(p: Parsed, gaz: gazetteer.Gazetteer) -> list[Candidate]:
    """When no building fits: the estate, road or admin unit the query names, deepest first."""
    estates = {
        e.ref: (m, s)
        for m in p.matches
        for e, s in zip(m.entities, m.sims, strict=True)
        if e.kind == "estate"
    }
    roads = {
        e.ref: (m, s) for m in p.matches for e, s in zip(m.entities, m.sims, strict=True) if e.kind == "road"
    }
    admins = {}
    for m in p.matches:
        for e, s in zip(m.entities, m.sims, strict=True):
            if e.kind in LEVEL_ORDER and e.kind not in ("road", "estate") and e.ref in gaz.admin_by_code:
                admins[e.ref] = (m, s, e)
    out: list[Candidate] = []
    with connection.cursor() as cur:
        if estates:
            cur.execute(
                "select estate, min(road_name), min(door_number), min(community_id), "
                "st_x(st_centroid(st_collect(point))), st_y(st_centroid(st_collect(point))), count(*) "
                "from layers_building where estate = any(%s) group by estate",
                [list(estates)],
            )
            for estate, road, door, comm, x, y, count in cur.fetchall():
                m, sim = estates[estate]
                chain = gaz.chain(comm)
                prefix = "".join(
                    chain[lv]["name"] for lv in ("district", "street", "community") if lv in chain
                )
                c = Candidate(
                    building=None,
                    level="door",
                    score=2.0 * sim,
                    name_quality=sim,
                    address=f"{prefix}{road}{door}号{estate}",
                    point=(x, y),
                    admin_id=comm,
                    members=count,
                )
                c.matched = {"estate": estate}
                c.notes.append(
                    (
                        f"{estate}共有{count}栋楼，未给出楼栋号",
                        f"{estate} has {count} buildings; no building number given",
                    )
                )
                out.append(c)
        if roads and not out:
            cur.execute(
                "select name, district_id, st_x(p), st_y(p) from (select name, district_id, "
                "st_closestpoint(geom, st_centroid(geom)) p from layers_road where name = any(%s)) r",
                [list(roads)],
            )
            for name, district_id, x, y in cur.fetchall():
                m, sim = roads[name]
                c = Candidate(
                    building=None,
                    level="road",
                    score=2.0 * sim,
                    name_quality=sim,
                    address=name,
                    point=(x, y),
                    admin_id=district_id,
                )
                c.matched = {"road": name}
                c.notes.append(
                    ("只识别到道路，未找到门牌", "only the road was recognised, no matching door number")
                )
                out.append(c)
        if admins and not out:
            deepest = min(LEVEL_ORDER[e.kind] for _, _, e in admins.values())
            codes = [code for code, (_, _, e) in admins.items() if LEVEL_ORDER[e.kind] == deepest]
            cur.execute(
                "select code, id, st_x(st_pointonsurface(geom)), st_y(st_pointonsurface(geom)) "
                "from layers_adminunit where code = any(%s)",
                [codes],
            )
            for code, uid, x, y in cur.fetchall():
                m, sim, e = admins[code]
                unit = gaz.admin_by_code[code]
                c = Candidate(
                    building=None,
                    level=unit.level,
                    score=1.0 * sim,
                    name_quality=sim * 0.95,
                    address=unit.name,
                    point=(x, y),
                    admin_id=uid,
                )
                c.matched = {unit.level: unit.name}
                out.append(c)
    return out


# ---------------------------------------------------------------- the pipeline
def _rank(p: Parsed, rows, gaz) -> list[Candidate]:
    cands = [score_building(p, b, gaz) for b in prefilter(p, rows)]
    cands.sort(key=lambda c: (-c.score, c.building.id))
    return cands


def _needs_fuzzy(p: Parsed, cands: list[Candidate]) -> bool:
    """Look for misspelt names when no building was identified, or when the best one contradicts a name
    while unexplained text is left over (the misspelt name may be the right one)."""
    if not cands or not cands[0].identified:
        return True
    return cands[0].contradictions > 0 and p.residue_chars >= 2


def geocode_many(
    queries: list[str],
    system: crsmod.RefSystem | None = None,
    limit: int = MAX_CANDIDATES,
    validated: bool = False,
) -> list[Result]:
    """Geocode every query; one Result per query, in order (invalid ones carry `error`)."""
    system = system or crsmod.parse_crs(None)
    gaz = gazetteer.current()
    n = len(queries)
    results: list[Result | None] = [None] * n
    parsed: list[Parsed | None] = [None] * n
    for i, q in enumerate(queries):
        try:
            q = q if validated else validate(q)
        except InvalidQuery as exc:
            results[i] = Result(
                str(q)[:MAX_QUERY_CHARS] if isinstance(q, str) else "",
                "",
                [],
                error={"zh": exc.zh, "en": exc.en},
            )
            continue
        parsed[i] = parse(normalize(q), gaz)
    rows = fetch_buildings(parsed)
    ranked: list[list[Candidate]] = [[] for _ in range(n)]
    for i, p in enumerate(parsed):
        if p is not None:
            ranked[i] = _rank(p, rows.get(i, []), gaz)
    # Typos: pg_trgm on the leftover text of every query whose best answer is not clean.
    wanted = {i for i, p in enumerate(parsed) if p is not None and _needs_fuzzy(p, ranked[i])}
    if wanted:
        extra = fuzzy_names(parsed, gaz, wanted)
        if extra:
            retry: list[Parsed | None] = [None] * n
            for i, ms in extra.items():
                retry[i] = parsed[i].with_fuzzy(ms)
            rows2 = fetch_buildings(retry)
            for i, p2 in enumerate(retry):
                if p2 is None:
                    continue
                cands2 = _rank(p2, rows2.get(i, []), gaz)
                if cands2 and (not ranked[i] or cands2[0].score > ranked[i][0].score):
                    ranked[i], parsed[i] = cands2, p2
    # Rooms for the leading candidates, then final order and confidence.
    tops = [c for cands in ranked for c in cands[:MAX_CANDIDATES]]
    verify_rooms(tops)
    finals: list[list[Candidate]] = [[] for _ in range(n)]
    found = [0] * n
    for i, p in enumerate(parsed):
        if p is None:
            continue
        cands = [c for c in ranked[i] if c.score > 0]
        cands.sort(key=lambda c: (-c.score, LEVEL_ORDER.get(c.level, 9), c.building.id))
        if not cands or not (cands[0].identified or cands[0].level == "door"):
            area = _area_candidates(p, gaz)
            if area and (not cands or area[0].score >= cands[0].score):
                # Numbers the area answer leaves unused: the caller meant something more precise.
                unused = sum(1 for x in p.nums if x.marker not in ("单元", "室", "层"))
                for c in area:
                    c.unexplained = unused
                cands = area + cands
        top_score = cands[0].score if cands else 0
        ties = sum(1 for c in cands if abs(c.score - top_score) < 1e-6)
        for k, c in enumerate(cands[:limit]):
            runner = cands[1].score if k == 0 and len(cands) > 1 and ties == 1 else None
            c.confidence = confidence_of(
                c, runner, p.residue_chars, ties if abs(c.score - top_score) < 1e-6 else 1
            )
            if k > 0 and ties == 1:
                c.confidence = min(c.confidence, round(cands[0].confidence * 0.5, 3))
        if ties > 1:
            for c in cands[:ties]:
                c.notes.append(
                    (
                        f"有{ties}个同样符合的结果，请补充楼栋号或上级地名",
                        f"{ties} answers fit equally; add a building number or a higher-level place",
                    )
                )
        finals[i] = cands[:limit]
        found[i] = len(cands)
    _place(finals, gaz, system)
    for i, q in enumerate(queries):
        if results[i] is not None:
            continue
        p = parsed[i]
        cands = finals[i]
        results[i] = Result(
            q.strip(), p.norm, [c.out for c in cands], _reason(p, cands, found[i]), found=found[i]
        )
    return results  # type: ignore[return-value]


def _place(finals: list[list[Candidate]], gaz, system: crsmod.RefSystem) -> None:
    """Grids, admin chain and output coordinates for every final candidate (one grid query in all)."""
    flat = [c for cands in finals for c in cands]
    points = []
    for c in flat:
        c.point = (c.building.x, c.building.y) if c.building is not None else c.point
        points.append(c.point)
    want = [k for k, c in enumerate(flat) if c.building is not None or c.level == "door"]
    hits = grids_at([points[k] for k in want])
    grid_of = dict(zip(want, hits, strict=True))
    xs, ys = (
        crsmod.from_storage([p[0] for p in points], [p[1] for p in points], system) if points else ([], [])
    )
    for k, c in enumerate(flat):
        chosen, grids = pick_grids(grid_of.get(k, []))
        grid_code = chosen.code if chosen else None
        if c.building is not None:
            grid_code = grid_code or c.building.grid_code
            admin_id = c.building.community_id
            address = c.building.address
        else:
            admin_id = c.admin_id
            address = c.address
        chain = gaz.chain(admin_id) if admin_id else {}
        if c.level in ("road",):
            chain = {k2: v for k2, v in chain.items() if k2 in ("city", "district")}
        out = {
            "building_id": c.building.id if c.building is not None else None,
            "address": address,
            "lon": crsmod.rounded(xs[k], system),
            "lat": crsmod.rounded(ys[k], system),
            "crs": system.label,
            "level": c.level,
            "confidence": c.confidence,
            "grid_code": grid_code,
            "grids": grids,
            "admin": chain,
            "matched": c.matched,
        }
        if c.level == "room":
            out["unit"], out["room"] = c.unit, c.room
            out["room_address"] = f"{address}{c.unit}单元{c.room}室"
        if c.notes:
            out["explain"] = {"zh": "；".join(z for z, _ in c.notes), "en": "; ".join(e for _, e in c.notes)}
        c.out = out


def _reason(p: Parsed, cands: list[Candidate], found: int) -> dict | None:
    if not cands:
        if not p.matches:
            return {
                "zh": "未识别出任何本市地名（区、街道、社区、道路、小区）",
                "en": "no place name of this city (district, street, community, road, estate) was recognised",
            }
        names = "、".join(dict.fromkeys(m.entities[0].name for m in p.matches))
        if p.nums:
            return {
                "zh": f"识别到“{names}”，但没有与所给门牌号、楼栋号相符的楼",
                "en": f"recognised “{names}” but no building has the door or building number given",
            }
        return {
            "zh": f"识别到“{names}”，但缺少门牌号或楼栋号",
            "en": f"recognised “{names}” but no door or building number",
        }
    top = cands[0]
    if found > 1 and top.confidence < 0.8:
        return {
            "zh": "地址不够明确，列出了几个可能的结果，请核对",
            "en": "the address is ambiguous; several candidates are listed",
        }
    return None
