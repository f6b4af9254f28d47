"""The gazetteer: every name the database knows (admin units, roads, estates, aliases) as an automaton.

Built from the database's own names, never from a national list: the city's streets and estates are
what people type, and a national list both misses them and adds false friends (中山路 read as 中山市).
Each name gives a full key and, for admin units and estates, short forms (明湖区 → 明湖, 兴化街道 →
兴化街 / 兴化, 锦华社区 → 锦华, 嫩江新村 → 嫩江); aliases from the admin add more.  One key may name
several places (锦华 the street, the community and the estate): the matcher decides between them by the
rest of the address.

Freshness: database triggers (migration 0002) renew `GazetteerState.source_token` whenever a named
source table changes; the name table `PlaceName` is rebuilt when its `built_token` lags behind, and each
process reloads its automaton when the pair of tokens differs from the one it built from.  Checking costs
one indexed single-row read per geocoding call.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field

import ahocorasick
from django.db import connection, transaction
from django.utils import timezone

from .normalize import normalize, spaced

# Suffixes that may be dropped from an estate's name to give the short name people use.
ESTATE_SUFFIXES = sorted(
    [
        "小区",
        "花园",
        "家园",
        "新村",
        "公寓",
        "嘉园",
        "名邸",
        "大厦",
        "苑",
        "园",
        "广场",
        "公馆",
        "华庭",
        "山庄",
        "府",
        "里",
        "新城",
        "雅居",
        "佳苑",
    ],
    key=len,
    reverse=True,
)
_STREET_SUFFIX = re.compile(r"(街道|镇|乡)$")
_COMMUNITY_SUFFIX = re.compile(r"(社区|村)$")
_DISTRICT_SUFFIX = re.compile(r"(区|县|旗|市)$")
ADMIN_LEVELS = ("city", "district", "street", "community")
_LOCK_ID = 0x6E65_6F67  # pg_advisory_xact_lock key for rebuilds
# Bump when the way names become keys changes (normalisation, short forms): the name table is rebuilt.
BUILD_VERSION = 2


@dataclass(frozen=True, slots=True)
class Entity:
    kind: str  # city | district | street | community | road | estate
    ref: str  # admin code, or the standard road / estate name
    name: str  # standard name
    form: str  # full | short | alias


@dataclass(frozen=True, slots=True)
class AdminInfo:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None

    @property
    def prefix(self) -> str:
        """Code prefix shared by everything inside (a city's districts share only its first 4 digits)."""
        return self.code[:4] if self.level == "city" else self.code


@dataclass
class Gazetteer:
    token: tuple[str, str, str]
    automaton: ahocorasick.Automaton
    admin_by_id: dict[int, AdminInfo]
    admin_by_code: dict[str, AdminInfo]
    keys: int = 0
    roads: set[str] = field(default_factory=set)
    estates: set[str] = field(default_factory=set)

    def find(self, text: str) -> list[tuple[int, int, str, tuple[Entity, ...]]]:
        """All occurrences of every key in `text`: (start, end, key, entities), end exclusive."""
        out = []
        if not self.keys:
            return out
        for end, (key, entities) in self.automaton.iter(text):
            out.append((end - len(key) + 1, end + 1, key, entities))
        return out

    def chain(self, admin_id: int | None) -> dict[str, dict[str, str]]:
        """{level: {code, name}} from the unit up to the city."""
        out: dict[str, dict[str, str]] = {}
        seen = 0
        while admin_id is not None and seen < 8:
            unit = self.admin_by_id.get(admin_id)
            if unit is None:
                break
            out[unit.level] = {"code": unit.code, "name": unit.name}
            admin_id = unit.parent_id
            seen += 1
        return out


def short_forms(kind: str, name: str) -> list[str]:
    """Short names people use for a place (normalised), without the full name itself."""
    n = normalize(name)
    stems: list[str] = []
    if kind == "city" or kind == "district":
        stems.append(_DISTRICT_SUFFIX.sub("", n))
    elif kind == "street":
        if n.endswith("街道"):
            stems += [n[:-1], n[:-2]]  # 兴化街, 兴化
        else:
            stems.append(_STREET_SUFFIX.sub("", n))
    elif kind == "community":
        stems.append(_COMMUNITY_SUFFIX.sub("", n))
    elif kind == "estate":
        for suffix in ESTATE_SUFFIXES:
            if n.endswith(suffix):
                stems.append(n[: -len(suffix)])
                break
    # A stem must still be a name: two characters at least; an estate's stem must not end in a digit
    # (阳光3小区 → 阳光3 would swallow the building number in 阳光3栋).  Admin stems may (铁人3 for
    # 铁人三社区): the parser drops such a hit when a digit follows it.
    return [s for s in stems if s != n and len(s) >= 2 and not (kind == "estate" and s[-1].isdigit())]


def _entries_from_sources() -> list[tuple[str, str, str, str, str]]:
    """(key, kind, ref, name, form) for every name in the layers and the aliases."""
    rows: list[tuple[str, str, str, str, str]] = []
    with connection.cursor() as cur:
        cur.execute("select code, name, level from layers_adminunit")
        admins = cur.fetchall()
        cur.execute(
            "select name from layers_road union "
            "select distinct road_name from layers_building where road_name <> ''"
        )
        roads = [r[0] for r in cur.fetchall()]
        cur.execute("select distinct estate from layers_building where estate <> ''")
        estates = [r[0] for r in cur.fetchall()]
        cur.execute("select name, kind, target from geocoding_alias")
        aliases = cur.fetchall()
    names = {}
    for code, name, level in admins:
        names[(level, code)] = name
        rows.append((normalize(name), level, code, name, "full"))
        rows += [(s, level, code, name, "short") for s in short_forms(level, name)]
    for name in roads:
        rows.append((normalize(name), "road", name, name, "full"))
    for name in estates:
        rows.append((normalize(name), "estate", name, name, "full"))
        rows += [(s, "estate", name, name, "short") for s in short_forms("estate", name)]
    for alias, kind, target in aliases:
        standard = names.get((kind, target), target)
        key = normalize(alias)
        if key:
            rows.append((key, kind, target, standard, "alias"))
    return [r for r in dict.fromkeys(rows) if r[0]]


def _build(token: tuple[str, str, str], entries, admins) -> Gazetteer:
    by_key: dict[str, list[Entity]] = {}
    roads, estates = set(), set()
    for key, kind, ref, name, form in entries:
        by_key.setdefault(key, []).append(Entity(kind, ref, name, form))
        if kind == "road":
            roads.add(ref)
        elif kind == "estate":
            estates.add(ref)
    automaton = ahocorasick.Automaton()
    for key, entities in by_key.items():
        automaton.add_word(key, (key, tuple(entities)))
    if by_key:
        automaton.make_automaton()
    admin_by_id = {a.id: a for a in admins}
    return Gazetteer(
        token=token,
        automaton=automaton,
        admin_by_id=admin_by_id,
        admin_by_code={a.code: a for a in admins},
        keys=len(by_key),
        roads=roads,
        estates=estates,
    )


def _admins() -> list[AdminInfo]:
    with connection.cursor() as cur:
        cur.execute("select id, code, name, level, parent_id from layers_adminunit")
        return [AdminInfo(*r) for r in cur.fetchall()]


def rebuild() -> int:
    """Rebuild the PlaceName table from the sources now (also `manage.py geocode_refresh`); row count."""
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(%s)", [_LOCK_ID])
            _ensure_state(cur)
            cur.execute("select source_token from geocoding_gazetteerstate where id = 1 for update")
            (source,) = cur.fetchone()
            entries = _entries_from_sources()
            _write(cur, entries, source)
    invalidate()
    return len(entries)


def _write(cur, entries, source) -> None:
    cur.execute("delete from geocoding_placename")
    raw = cur.cursor
    with raw.copy("COPY geocoding_placename (key, grams, kind, ref, name, form) FROM STDIN") as copy:
        for key, kind, ref, name, form in entries:
            copy.write_row((key[:80], spaced(key[:80])[:200], kind, ref[:64], name[:64], form))
    cur.execute(
        "update geocoding_gazetteerstate set built_token = %s, built_version = %s, built_at = %s "
        "where id = 1",
        [source, BUILD_VERSION, timezone.now()],
    )


def _ensure_state(cur) -> None:
    cur.execute(
        "insert into geocoding_gazetteerstate (id, source_token, built_version) values (1, %s, 0) "
        "on conflict (id) do nothing",
        [uuid.uuid4()],
    )


_cache: Gazetteer | None = None
_cache_lock = threading.Lock()


def invalidate(*args, **kwargs) -> None:
    """Forget this process's automaton (an alias was saved here, or the names were rebuilt)."""
    global _cache
    _cache = None


def current() -> Gazetteer:
    """The gazetteer matching the database now, rebuilding the name table first when it is stale."""
    global _cache
    with connection.cursor() as cur:
        cur.execute(
            "select source_token, built_token, built_version, built_at "
            "from geocoding_gazetteerstate where id = 1"
        )
        row = cur.fetchone()
    if row is None or row[1] is None or row[0] != row[1] or row[2] != BUILD_VERSION:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(%s)", [_LOCK_ID])
            _ensure_state(cur)
            cur.execute(
                "select source_token, built_token, built_version "
                "from geocoding_gazetteerstate where id = 1 for update"
            )
            source, built, version = cur.fetchone()
            if built != source or version != BUILD_VERSION:
                entries = _entries_from_sources()
                _write(cur, entries, source)
                cur.execute("select built_at from geocoding_gazetteerstate where id = 1")
                gaz = _build((str(source), str(source), str(cur.fetchone()[0])), entries, _admins())
                _cache = gaz
                return gaz
            cur.execute("select built_at from geocoding_gazetteerstate where id = 1")
            row = (source, built, version, cur.fetchone()[0])
    # built_at is part of the token: a rebuild by a newer parser changes it even when the source did not.
    token = (str(row[0]), str(row[1]), str(row[3]))
    cached = _cache
    if cached is not None and cached.token == token:
        return cached
    with _cache_lock:
        if _cache is not None and _cache.token == token:
            return _cache
        with connection.cursor() as cur:
            cur.execute("select key, kind, ref, name, form from geocoding_placename")
            entries = cur.fetchall()
        _cache = _build(token, entries, _admins())
        return _cache
