"""Split a normalised address into gazetteer names, numbers and leftover text.

Names are found first (the automaton sees the whole string), so digits that belong to a name (学士3路,
杏林1社区) are never read as house numbers.  Where names overlap, the longest wins: 杏林路 is a road, not
the district 杏林区 read from its first two characters, and 中山路 is never 中山市.  Numbers are then read
from the gaps with the designator normalisation put after them (号, 栋, 单元, 室, 层, 楼) and the
hyphenated forms people write (33-3-501).  Which role a number plays (door, building, unit, room) is
decided later, per candidate building, in match.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .gazetteer import Entity, Gazetteer

_NUMBER = re.compile(r"(\d{1,6}(?:-\d{1,6}){0,3})(号|栋|单元|室|层|楼)?")
_CJK = re.compile(r"[\u3400-\u9fff]")
_NUMBER_NEXT = re.compile(r"[\d\-]|号|栋|单元|室|层|楼")
# Words that carry no place: greetings, complaint verbs, "near", "opposite".  Generic Chinese, not tuned
# to any data set; what is left after them counts as unexplained text and lowers the confidence.
FILLERS = sorted(
    [
        "你好",
        "您好",
        "请问",
        "麻烦",
        "帮忙",
        "帮我",
        "查一下",
        "查询",
        "一下",
        "我要",
        "反映",
        "投诉",
        "举报",
        "附近",
        "旁边",
        "对面",
        "门口",
        "楼下",
        "楼上",
        "后面",
        "前面",
        "里面",
        "这里",
        "那里",
        "地址",
        "位于",
        "中国",
        "的",
        "在",
        "了",
        "有",
        "是",
        "号院",
        "院内",
        "院",
    ],
    key=len,
    reverse=True,
)
_FILLER = re.compile("|".join(map(re.escape, FILLERS)))
# Characters that end Chinese place names: fuzzy windows for typos end on one of them.
NAME_ENDINGS = set("路街道巷弄区县市镇乡村社苑园厦城里府庄湾院坊寓邸庭居楼场厂司校院所岗屯桥湖")


@dataclass
class Match:
    start: int
    end: int
    key: str
    entities: tuple[Entity, ...]
    sims: tuple[float, ...] = ()  # per entity; 1.0 for exact keys
    fuzzy: bool = False

    def __post_init__(self) -> None:
        if not self.sims:
            self.sims = (1.0,) * len(self.entities)


@dataclass
class Num:
    start: int
    end: int
    text: str  # digits, maybe hyphenated: 33, 33-1, 33-3-501
    marker: str  # '', 号, 栋, 单元, 室, 层, 楼
    after: str  # what stands right before: road | estate | admin | num<marker> (num栋, num单元 …) | ''

    @property
    def parts(self) -> list[str]:
        return self.text.split("-")


@dataclass
class Parsed:
    norm: str
    matches: list[Match]
    nums: list[Num]
    residue: list[tuple[int, int, str]] = field(default_factory=list)  # unexplained runs

    @property
    def residue_chars(self) -> int:
        return sum(len(_CJK.findall(t)) for _, _, t in self.residue)

    def with_fuzzy(self, extra: list[Match]) -> Parsed:
        """This parse with fuzzy matches in place of the leftover text and short names they cover."""
        kept = [m for m in self.matches if not any(m.start < x.end and x.start < m.end for x in extra)]
        return assemble(self.norm, sorted(kept + extra, key=lambda m: m.start))


def _select(hits: list[Match]) -> list[Match]:
    """Non-overlapping matches, longest first (ties: leftmost)."""
    chosen: list[Match] = []
    taken = []
    for m in sorted(hits, key=lambda m: (-(m.end - m.start), m.start)):
        if any(m.start < e and s < m.end for s, e in taken):
            continue
        chosen.append(m)
        taken.append((m.start, m.end))
    return sorted(chosen, key=lambda m: m.start)


def _kind_of(m: Match) -> str:
    kinds = {e.kind for e in m.entities}
    if "road" in kinds:
        return "road"
    if "estate" in kinds:
        return "estate"
    return "admin"


def assemble(norm: str, matches: list[Match]) -> Parsed:
    """Numbers and residue from the gaps between the chosen matches."""
    nums: list[Num] = []
    residue: list[tuple[int, int, str]] = []
    pos = 0
    prev = ""
    bounds = [(m.start, m.end, m) for m in matches] + [(len(norm), len(norm), None)]
    for start, end, m in bounds:
        gap = norm[pos:start]
        cursor = 0
        for nm in _NUMBER.finditer(gap):
            before = gap[cursor : nm.start()]
            if before:
                _add_residue(residue, pos + cursor, before)
                if _CJK.search(_FILLER.sub("", before)):
                    prev = ""
            nums.append(Num(pos + nm.start(), pos + nm.end(), nm.group(1), nm.group(2) or "", prev))
            prev = "num" + (nm.group(2) or "")
            cursor = nm.end()
        tail = gap[cursor:]
        if tail:
            _add_residue(residue, pos + cursor, tail)
            if _CJK.search(_FILLER.sub("", tail)):
                prev = ""
        if m is not None:
            prev = _kind_of(m)
            pos = end
    return Parsed(norm, matches, nums, residue)


def _add_residue(residue: list, start: int, text: str) -> None:
    cleaned = _FILLER.sub("", text)
    if cleaned.strip("-"):
        residue.append((start, start + len(text), text))


def parse(norm: str, gaz: Gazetteer) -> Parsed:
    # A key ending in a digit (铁人3, short for 铁人三社区) followed by a digit or a number designator is a
    # number, not that name: 西湖3栋 is building 3 of 西湖苑, not 西湖三社区.
    hits = [
        Match(s, e, key, ents)
        for s, e, key, ents in gaz.find(norm)
        if not (key[-1].isdigit() and _NUMBER_NEXT.match(norm, e))
    ]
    return assemble(norm, _select(hits))


def _strong(m: Match) -> bool:
    return not m.fuzzy and any(e.form != "short" for e in m.entities)


def fuzzy_windows(parsed: Parsed, max_windows: int = 8) -> list[tuple[int, int, str]]:
    """Stretches that may be a misspelt name, for pg_trgm.  Runs are the text outside full names and
    numbers — short names inside them are kept in the run, since a misspelt 康宁路 (康宁露) shows up as the
    estate short name 康宁 plus a stray 露.  Windows of 2–7 characters start at a run's start, end at its
    end, or end on a character that ends place names (路, 街, 区, 苑 …)."""
    # Only admin names are fixed: a road or estate found exactly may itself be the slip (吉祥大街 typed
    # 吉祥街, which is another road), and the fuzzy path runs only when the exact one found no building.
    taken = [
        (m.start, m.end)
        for m in parsed.matches
        if _strong(m) and not any(e.kind in ("road", "estate") for e in m.entities)
    ]
    taken += [(n.start, n.end) for n in parsed.nums]
    covered = [False] * len(parsed.norm)
    for s, e in taken:
        for k in range(s, e):
            covered[k] = True
    runs: list[tuple[int, int]] = []
    k = 0
    while k < len(covered):
        if covered[k]:
            k += 1
            continue
        j = k
        while j < len(covered) and not covered[j]:
            j += 1
        runs.append((k, j))
        k = j
    scored: list[tuple[tuple, tuple[int, int, str]]] = []
    for rs, re_ in runs:
        text = parsed.norm[rs:re_]
        if not _CJK.search(text) or len(_FILLER.sub("", text)) < 2:
            continue
        # Two-character windows only when the whole run is that short: as trigram queries they match
        # every name sharing one character.
        lengths = range(2, 3) if re_ - rs == 2 else range(3, 7)
        spans: dict[tuple[int, int], int] = {}
        for n in lengths:
            if rs + n <= re_:
                spans.setdefault((rs, rs + n), 1)
                spans[(re_ - n, re_)] = 0
        for i in range(rs, re_):
            if parsed.norm[i] in NAME_ENDINGS:
                for n in lengths:
                    if i + 1 - n >= rs:
                        spans[(i + 1 - n, i + 1)] = 0
        for (s, e), rank in spans.items():
            piece = parsed.norm[s:e]
            if _CJK.search(piece) and len(_FILLER.sub("", piece)) >= 2:
                # windows that end where names end first, then names of 3–5 characters
                scored.append(((rank, abs((e - s) - 4)), (s, e, piece)))
    scored.sort(key=lambda t: (t[0], t[1][0]))
    return [w for _, w in scored[:max_windows]]
