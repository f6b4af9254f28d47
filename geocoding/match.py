"""From parsed addresses to ranked candidates: exact keys in PostGIS first, then pg_trgm for typos.

Everything works on a batch of queries at once (a single query is a batch of one), so that a
100,000-row upload costs a handful of SQL statements per few thousand rows rather than several per row.

Candidates come from exact keys — (road, door number), (estate, building number), (road, building
number) — looked up with btree indexes.  Each candidate building is then scored field by field against
everything the query said:

* door, building and room numbers must agree exactly (pg_trgm would find 学士街33号 ≈ 学士街333号);
  a number the candidate cannot explain costs points;
* every name in the query supports the candidate when one of the places it may mean contains the
  building (the community code is a prefix test) and costs points when none does;
* fuzzy names (typos) count with their similarity (rapidfuzz over candidates pg_trgm found).

The confidence says how sure the top answer is: complete identification, the quality of the names used,
contradictions, unexplained numbers and text, and how far ahead of the next candidate it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from rapidfuzz import fuzz

from .gazetteer import Entity, Gazetteer
from .parse import Match, Num, Parsed, fuzzy_windows

KIND_WEIGHT = {"road": 2.0, "estate": 2.0, "community": 1.5, "street": 1.0, "district": 1.0, "city": 0.5}
FORM_WEIGHT = {"full": 1.0, "alias": 0.95, "short": 0.85}
FUZZY_MIN = 0.6  # rapidfuzz ratio / 100 below which a fuzzy name is ignored
MAX_CANDIDATES = 5


@dataclass(frozen=True, slots=True)
class BuildingRow:
    id: int
    road_name: str
    door_number: str
    estate: str
    building_number: str
    address: str
    community_id: int
    grid_code: str
    x: float
    y: float


BUILDING_COLUMNS = (
    "b.id, b.road_name, b.door_number, b.estate, b.building_number, b.address, b.community_id, b.grid_code, "
    "st_x(b.point), st_y(b.point)"
)


@dataclass
class Candidate:
    building: BuildingRow | None
    level: str
    score: float
    identified: bool = False
    confidence: float = 0.0
    unit: int | None = None
    room: str | None = None
    want_room: tuple[int | None, str] | None = None
    matched: dict = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)
    contradictions: int = 0
    unexplained: int = 0
    name_quality: float = 1.0
    # area answers (no single building)
    address: str = ""
    point: tuple[float, float] | None = None
    admin_id: int | None = None
    grid_code: str | None = None
    members: int = 0
    out: dict = field(default_factory=dict)  # the answer as the API shows it (geocoder._place)


# ---------------------------------------------------------------- number roles
def _options(n: Num) -> list[dict[str, str]]:
    """The roles a number token may play, most likely first."""
    p = n.parts
    if n.marker == "单元":
        return (
            [{"unit": p[-1]}]
            if len(p) == 1
            else [{"bnum": p[0], "unit": p[-1]}, {"door": p[0], "unit": p[-1]}]
        )
    if n.marker == "室":
        if len(p) == 1:
            return [{"room": p[0]}]
        if len(p) == 2:
            return [{"unit": p[0], "room": p[1]}, {"bnum": p[0], "room": p[1]}, {"door": p[0], "room": p[1]}]
        return [{"bnum": p[0], "unit": p[1], "room": p[2]}, {"door": p[0], "unit": p[1], "room": p[2]}]
    if n.marker == "层":
        return [{"floor": p[0]}]
    if len(p) == 1:
        v = p[0]
        if n.marker == "号":
            # after a unit or a building, N号 is the room (3单元1号, 5栋201号)
            room = [{"room": v}] if n.after in ("num单元", "num栋") else []
            return [{"door": v}, {"bnum": v}] + room
        if n.marker in ("栋", "楼"):
            opts = [{"bnum": v}, {"door": v}]
            return opts + [{"floor": v}] if n.marker == "楼" else opts
        return [{"door": v}, {"bnum": v}, {"room": v}, {"unit": v}]
    if len(p) == 2:
        a, b = p
        opts = [{"door": f"{a}-{b}"}, {"door": a, "bnum": b}]
        if n.marker in ("", "栋"):
            opts += [
                {"bnum": a, "unit": b},
                {"unit": a, "room": b},
                {"door": a, "room": b},
                {"bnum": a, "room": b},
            ]
        return opts
    if len(p) == 3:
        a, b, c = p
        return [
            {"door": a, "unit": b, "room": c},
            {"bnum": a, "unit": b, "room": c},
            {"door": a, "bnum": b, "room": c},
            {"door": f"{a}-{b}", "room": c},
            {"door": f"{a}-{b}", "unit": c},
        ]
    a, b, c, d = p[:4]
    return [
        {"door": a, "bnum": b, "unit": c, "room": d},
        {"door": f"{a}-{b}", "unit": c, "room": d},
        {"door": f"{a}-{b}", "bnum": c, "room": d},
    ]


def _keys(parsed: Parsed) -> tuple[set[str], set[str]]:
    """Door and building numbers the query may contain (for fetching candidates)."""
    doors, bnums = set(), set()
    for n in parsed.nums:
        for opt in _options(n):
            if "door" in opt:
                doors.add(opt["door"])
            if "bnum" in opt:
                bnums.add(opt["bnum"])
    return doors, bnums


def _names(parsed: Parsed, kind: str) -> set[str]:
    return {e.ref for m in parsed.matches for e in m.entities if e.kind == kind}


# ---------------------------------------------------------------- scoring
def _consistent(e: Entity, b: BuildingRow, community_code: str, gaz: Gazetteer) -> bool:
    if e.kind == "road":
        return b.road_name == e.ref
    if e.kind == "estate":
        return b.estate == e.ref
    unit = gaz.admin_by_code.get(e.ref)
    return unit is not None and community_code.startswith(unit.prefix)


def prefilter(parsed: Parsed, rows: list[BuildingRow], keep: int = 16) -> list[BuildingRow]:
    """The `keep` rows that agree with most of the query's keys, by a cheap count, before full scoring:
    a short name such as 阳光 can bring in dozens of estates' buildings."""
    if len(rows) <= keep:
        return rows
    doors, bnums = _keys(parsed)
    roads, estates = _names(parsed, "road"), _names(parsed, "estate")

    def cheap(b: BuildingRow) -> int:
        # doors weigh most: a door is unique on its road, building numbers repeat in every estate
        return (
            4 * (b.door_number in doors)
            + 3 * (b.building_number in bnums)
            + 2 * (b.road_name in roads)
            + 2 * (b.estate in estates)
        )

    return sorted(rows, key=lambda b: (-cheap(b), b.id))[:keep]


def score_building(parsed: Parsed, b: BuildingRow, gaz: Gazetteer) -> Candidate:
    comm = gaz.admin_by_id.get(b.community_id)
    community_code = comm.code if comm else ""
    c = Candidate(building=b, level="building", score=0.0)
    used_door = used_bnum = False
    name_hits: dict[str, tuple[float, Entity]] = {}
    for m in parsed.matches:
        best = 0.0
        best_e = None
        for e, sim in zip(m.entities, m.sims, strict=True):
            if _consistent(e, b, community_code, gaz):
                w = KIND_WEIGHT[e.kind] * FORM_WEIGHT.get(e.form, 1.0) * sim
                if w > best:
                    best, best_e = w, e
        if best_e is not None:
            c.score += best
            prev = name_hits.get(best_e.kind)
            quality = FORM_WEIGHT.get(best_e.form, 1.0) * (m.sims[m.entities.index(best_e)])
            if prev is None or quality > prev[0]:
                name_hits[best_e.kind] = (quality, best_e)
            if m.fuzzy:
                c.notes.append((f"“{m.key}”按“{best_e.name}”理解", f"read “{m.key}” as “{best_e.name}”"))
        else:
            admin = any(e.kind in KIND_WEIGHT and e.kind not in ("road", "estate") for e in m.entities)
            if m.fuzzy:
                continue  # a fuzzy guess that does not fit is no evidence against
            c.score -= 2.5 if admin else 1.0
            c.contradictions += 1
            c.notes.append((f"与“{m.key}”不符", f"does not agree with “{m.key}”"))
    want_unit = want_room = None
    for n in parsed.nums:
        best_fit, best_opt = None, None
        for idx, opt in enumerate(_options(n)):
            # Earlier readings are the common ones; a door number written out in full (2274-1) beats
            # splitting it (door 2274, building 1).
            fit = -0.05 * idx + (0.6 if opt.get("door") == n.text else 0.0)
            ok = True
            for role, v in opt.items():
                if role == "door":
                    if used_door or b.door_number != v:
                        ok = False
                        break
                    fit += 3.0 + (0.5 if n.after == "road" else 0.0)
                elif role == "bnum":
                    if used_bnum or b.building_number != v:
                        ok = False
                        break
                    fit += 3.0 + (0.5 if n.after == "estate" or n.after.startswith("num") else 0.0)
            if ok and (best_fit is None or fit > best_fit):
                best_fit, best_opt = fit, opt
        if best_opt is None:
            c.unexplained += 1
            c.score -= 3.0 if n.marker in ("号", "栋") else 1.5
            c.notes.append(
                (f"号码“{n.text}{n.marker}”与该楼不符", f"number “{n.text}{n.marker}” does not fit")
            )
            continue
        c.score += best_fit
        if "door" in best_opt:
            used_door = True
            c.matched["door"] = best_opt["door"]
        if "bnum" in best_opt:
            used_bnum = True
            c.matched["building"] = best_opt["bnum"]
        if "unit" in best_opt:
            want_unit = int(best_opt["unit"])
        if "room" in best_opt:
            want_room = best_opt["room"]
    if want_room is not None:
        c.want_room = (want_unit, want_room)
    elif want_unit is not None:
        c.unit = want_unit
    has_road = "road" in name_hits
    has_estate = "estate" in name_hits
    if b.estate:
        c.identified = used_bnum and (used_door or has_estate or has_road)
    else:
        c.identified = used_door and has_road
    if not c.identified and used_door and has_road and b.estate:
        c.level = "door"
    key_quality = [q for k, (q, _) in name_hits.items() if k in ("road", "estate")]
    c.name_quality = max(key_quality) if key_quality else 0.8
    for k, (_q, e) in name_hits.items():
        c.matched[k] = e.name
    return c


def confidence_of(c: Candidate, runner_up: float | None, residue_chars: int, ties: int) -> float:
    if c.building is None:
        conf = 0.85 * c.name_quality
    elif c.identified:
        conf = 0.97 * c.name_quality
    elif c.level == "door":
        conf = 0.9 * c.name_quality
    else:
        conf = 0.55 * c.name_quality
    conf *= 0.5**c.contradictions
    conf *= (0.6 if c.building is None else 0.8) ** c.unexplained
    conf *= max(0.85, 1.0 - 0.012 * residue_chars)
    if runner_up is not None:
        gap = c.score - runner_up
        if gap < 2.0:
            conf *= 0.5 + 0.25 * max(0.0, gap)
    if ties > 1:
        conf /= ties
    return round(max(0.0, min(1.0, conf)), 3)


# ---------------------------------------------------------------- SQL
def fetch_buildings(parsed_list: list[Parsed | None]) -> dict[int, list[BuildingRow]]:
    """Candidate buildings per query index by exact keys, in one statement for the whole batch."""
    rd_q, rd_r, rd_d = [], [], []
    es_q, es_e, es_b = [], [], []
    rb_q, rb_r, rb_b = [], [], []
    for i, p in enumerate(parsed_list):
        if p is None:
            continue
        doors, bnums = _keys(p)
        roads, estates = _names(p, "road"), _names(p, "estate")
        # (road, building number) without a door only for a number marked as a building and no door written
        # out (学士街3号楼): with 观澜路158号 or 158-1-1 every estate on the road would only be noise.
        explicit_door = any(n.marker == "号" for n in p.nums)
        building_marked = {n.parts[0] for n in p.nums if n.marker in ("栋", "楼") and len(n.parts) == 1}
        for r in roads:
            for d in doors:
                rd_q.append(i), rd_r.append(r), rd_d.append(d)
            if not explicit_door:
                for bn in building_marked:
                    rb_q.append(i), rb_r.append(r), rb_b.append(bn)
        for e in estates:
            for bn in bnums:
                es_q.append(i), es_e.append(e), es_b.append(bn)
    out: dict[int, dict[int, BuildingRow]] = {}
    if not (rd_q or es_q or rb_q):
        return {}
    sql = f"""
        select k.qi, {BUILDING_COLUMNS}
        from unnest(%s::int[], %s::text[], %s::text[]) k(qi, road, door)
        join layers_building b on b.road_name = k.road and b.door_number = k.door
        union all
        select k.qi, {BUILDING_COLUMNS}
        from unnest(%s::int[], %s::text[], %s::text[]) k(qi, estate, bnum)
        join layers_building b on b.estate = k.estate and b.building_number = k.bnum
        union all
        select k.qi, {BUILDING_COLUMNS}
        from unnest(%s::int[], %s::text[], %s::text[]) k(qi, road, bnum)
        join layers_building b on b.road_name = k.road and b.building_number = k.bnum and b.estate <> ''
    """
    with connection.cursor() as cur:
        cur.execute(sql, [rd_q, rd_r, rd_d, es_q, es_e, es_b, rb_q, rb_r, rb_b])
        for row in cur.fetchall():
            out.setdefault(row[0], {})[row[1]] = BuildingRow(*row[1:])
    return {i: list(rows.values()) for i, rows in out.items()}


def fuzzy_names(parsed_list: list[Parsed | None], gaz: Gazetteer, wanted: set[int]) -> dict[int, list[Match]]:
    """pg_trgm candidates (trigram GIN index on PlaceName.grams) for the leftover text of the queries in
    `wanted`, re-scored with rapidfuzz; non-overlapping best windows per query."""
    windows: list[tuple[int, int, int, str]] = []
    for i in wanted:
        p = parsed_list[i]
        if p is None:
            continue
        for s, e, text in fuzzy_windows(p):
            windows.append((i, s, e, text))
    if not windows:
        return {}
    grams = [" ".join(w[3]) for w in windows]
    with connection.cursor() as cur:
        # 0.45 keeps every single-character slip in a name of three or more characters (≥ 0.5 with spaced
        # grams) while the index no longer returns every name that merely shares 路 or 街.
        cur.execute("set pg_trgm.similarity_threshold = 0.45; set jit = off")
        cur.execute(
            """
            select w.n, p.key, p.kind, p.ref, p.name, p.form
            from unnest(%s::text[]) with ordinality as w(g, n)
            cross join lateral (
                select key, kind, ref, name, form from geocoding_placename p
                where p.grams %% w.g and p.form <> 'short' order by p.grams <-> w.g limit 10
            ) p
            """,
            [grams],
        )
        rows = cur.fetchall()
    by_window: dict[int, list[tuple[float, Entity]]] = {}
    for n, key, kind, ref, name, form in rows:
        w = windows[n - 1]
        sim = fuzz.ratio(w[3], key) / 100.0
        if sim >= FUZZY_MIN and key != w[3]:  # exact keys are the automaton's business
            by_window.setdefault(n - 1, []).append((sim, Entity(kind, ref, name, form)))
    out: dict[int, list[Match]] = {}
    # Best windows first — similarity times length, so that 北远路 ≈ 北苑路 (0.67 × 3) beats 远路 ≈ 远望路
    # (0.8 × 2) — keeping those that do not overlap a better one.
    ranked = sorted(by_window.items(), key=lambda kv: -max(s for s, _ in kv[1]) * len(windows[kv[0]][3]))
    for widx, ents in ranked:
        qi, s, e, text = windows[widx]
        taken = out.setdefault(qi, [])
        if any(s < m.end and m.start < e for m in taken):
            continue
        ents.sort(key=lambda t: -t[0])
        ents = ents[:6]
        taken.append(Match(s, e, text, tuple(x for _, x in ents), tuple(sm for sm, _ in ents), fuzzy=True))
    return out


def verify_rooms(cands: list[Candidate]) -> None:
    """Check unit/room against the house units; a room that exists makes the answer room-level."""
    want = [(c.building.id, c.want_room[1]) for c in cands if c.building is not None and c.want_room]
    if not want:
        return
    with connection.cursor() as cur:
        cur.execute(
            "select h.building_id, h.unit, h.room from layers_houseunit h "
            "join unnest(%s::bigint[], %s::text[]) k(b, room) on h.building_id = k.b and h.room = k.room",
            [[w[0] for w in want], [w[1] for w in want]],
        )
        found: dict[tuple[int, str], list[int]] = {}
        for bid, unit, room in cur.fetchall():
            found.setdefault((bid, room), []).append(unit)
    for c in cands:
        if c.building is None or not c.want_room:
            continue
        unit, room = c.want_room
        units = found.get((c.building.id, room), [])
        if unit is not None and unit in units or unit is None and len(units) == 1:
            c.unit, c.room = (unit if unit is not None else units[0]), room
            c.score += 0.5
            if c.identified:
                c.level = "room"
        elif units:
            c.notes.append(
                (f"{room}室在多个单元，请指明单元", f"room {room} exists in several units; give the unit")
            )
        else:
            c.notes.append(
                (
                    f"未找到{unit or ''}{'单元' if unit else ''}{room}室，按楼栋返回",
                    f"room {room} not found; answering with the building",
                )
            )
