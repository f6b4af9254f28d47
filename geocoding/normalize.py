"""Normalise typed Chinese addresses (and the gazetteer's names, with the same function).

Names and queries go through exactly the same steps, so a name like 学士三路 becomes 学士3路 on both
sides and the gazetteer still finds it.  The steps:

1. NFKC: full-width digits, letters and punctuation become ASCII (３３－１ → 33-1).
2. Lower case; dashes of every kind, slashes and spaces between digits become "-" (33/3/501, 33 3 501);
   "#" after a number is "号" (3#楼 = 3号楼).
3. Chinese numerals become digits, run by run (cn2an): 三十三 → 33, 五零一 → 501, 两 → 2.  A run is
   converted on its own, so the result never depends on the words around it.  Runs cn2an cannot read
   (百 alone, as in 百合) are kept.
4. Spaces and punctuation go.
5. Attached door numbers (附号) get the plate's form: 33号之一, 33号附1, 33之1号 → 33-1号.
   Designators get one spelling: 号楼/幢/座/栋 → 栋, 单元门 → 单元, 户/号房/房间 → 室, 层 → 层;
   街道办事处/街道办/街办/办事处 → 街道; 社区居民委员会/社区居委会/居委会 → 社区; 村民委员会/村委会 → 村.
   Number designators are only rewritten right after a digit, so names keep their characters.
"""

from __future__ import annotations

import re
import unicodedata

import cn2an

_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−﹣－~～_/"), "-")
_SPACED_DIGITS = re.compile(r"(?<=\d)\s+(?=\d)")
_NUMERAL_RUN = re.compile(r"[零〇一二三四五六七八九十百千万两]+")
_HAS_DIGIT_CHAR = re.compile(r"[零〇一二三四五六七八九十两]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_UNIT_CHARS = set("号栋幢座单室户层楼门")
_DIGIT_CHARS = str.maketrans("零〇一二三四五六七八九两", "001234567892")
_DROP = re.compile(r"[\s,，。.、:：;；()（）\[\]【】{}<>《》\"'“”‘’!！?？|\\@*&^%$+=`]+")
_HASH = re.compile(r"(\d)#")
_DESIGNATORS = [
    # 33号之一 / 33号附1 / 33之1号 are how people say the door plate 33-1号 (attached doors, 附号)
    (re.compile(r"(\d)号?(?:之|附)(\d{1,3})号?"), r"\1-\2号"),
    (re.compile(r"(\d)(?:号楼栋|号楼|号幢|号栋|号座|楼栋|幢|栋|座)"), r"\1栋"),
    (re.compile(r"(\d)(?:单元门|单元|门洞)"), r"\1单元"),
    (re.compile(r"(\d)(?:号房间|号房|房间|号室|室|户)"), r"\1室"),
    (re.compile(r"(\d)(?:楼层|层)"), r"\1层"),
    (re.compile(r"-+"), "-"),
]
_ADMIN_VARIANTS = [
    (re.compile(r"街道办事处|街道办|街办|办事处"), "街道"),
    (re.compile(r"社区居民委员会|社区居委会|居民委员会|居委会"), "社区"),
    (re.compile(r"村民委员会|村委会"), "村"),
]


def _numeral(match: re.Match) -> str:
    run = match.group(0)
    after = match.string[match.end() : match.end() + 1]
    if run[-1] in "百千万" and len(run) > 1 and _CJK.match(after or "x") and after not in _UNIT_CHARS:
        # 光明二百合路 is 光明二 + 百合路, not 200: a trailing 百/千/万 followed by a name stays a word.
        return _numeral_text(run[:-1]) + run[-1]
    return _numeral_text(run)


def _numeral_text(run: str) -> str:
    if not _HAS_DIGIT_CHAR.search(run):
        return run  # 百, 千, 万 alone are words (百合, 万达), not numbers
    if not re.search(r"[十百千万]", run):
        return run.translate(_DIGIT_CHARS)  # read digit by digit: 五零一 → 501
    try:
        return str(cn2an.cn2an(run, "smart"))
    except (ValueError, KeyError, IndexError):
        return run


def normalize(text: str) -> str:
    """The canonical form of an address or a name (see the module docstring)."""
    t = unicodedata.normalize("NFKC", text).lower().translate(_DASHES)
    t = _SPACED_DIGITS.sub("-", t)  # 33 3 501 (or 33/3/501) is 33-3-501, never 333501
    t = _NUMERAL_RUN.sub(_numeral, t)
    t = _HASH.sub(r"\1号", t)
    t = _DROP.sub("", t)
    for pattern, repl in _ADMIN_VARIANTS:
        t = pattern.sub(repl, t)
    for pattern, repl in _DESIGNATORS:
        t = pattern.sub(repl, t)
    return t.strip("-")


def spaced(key: str) -> str:
    """A key with a space after every character: pg_trgm then makes trigrams of single characters."""
    return " ".join(key)
