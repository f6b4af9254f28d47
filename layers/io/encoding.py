"""Which text encoding a shapefile's DBF is in.

Shapefiles from Chinese surveying and planning offices are usually GBK (code page 936), announced by a
.cpg file, by the DBF header's language driver id, or by nothing at all.  GDAL falls back to ISO-8859-1
when nothing is said and turns values it cannot decode into NULL without an error, which would import
garbled or empty addresses silently.  So we decide the encoding ourselves, read raw bytes and decode them
here, where a failure can be reported per feature.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from .errors import LayerIOError

# DBF header byte 29 (language driver id) → Python codec, for the ids met in practice.
_LDID = {
    0x01: "cp437",
    0x02: "cp850",
    0x03: "cp1252",
    0x4D: "gbk",
    0x4E: "cp949",
    0x4F: "big5",
    0x57: "cp1252",
    0x58: "cp1252",
    0x59: "cp1252",
    0x7A: "gbk",
    0x7B: "cp949",
    0x7C: "cp874",
    0x78: "big5",
    0xC8: "cp1250",
    0xC9: "cp1251",
    0xCA: "cp1254",
    0xCB: "cp1253",
}

# Names found in .cpg files that Python spells differently.  GB2312 files are decoded as GBK (a superset).
_CPG_NAMES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "936": "gbk",
    "cp936": "gbk",
    "gb2312": "gbk",
    "gbk": "gbk",
    "gb18030": "gb18030",
    "950": "big5",
    "big5": "big5",
    "ansi 1252": "cp1252",
    "1252": "cp1252",
    "65001": "utf-8",
}

RAW = "latin-1"  # how fiona is asked to hand us undecoded bytes: latin-1 maps every byte to one char


@dataclass(frozen=True)
class Encoding:
    codec: str  # a Python codec name
    source: str  # where the decision came from, shown to the user

    def decode(self, raw: str) -> str:
        """Decode a value fiona read as latin-1 (i.e. raw bytes); raises UnicodeDecodeError."""
        return raw.encode(RAW).decode(self.codec)


def codec_named(name: str) -> str:
    """Validate a user-given or .cpg encoding name and return the Python codec for it."""
    key = name.strip().lower()
    if key in _CPG_NAMES:
        return _CPG_NAMES[key]
    if key.isdigit():
        key = "cp" + key
    if key.startswith("8859"):
        key = "iso" + key
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise LayerIOError(
            f"未知的字符编码 unknown encoding: {name!r}(例如 e.g. GBK, UTF-8, GB18030)"
        ) from None


def read_cpg(shp: Path) -> str | None:
    for suffix in (".cpg", ".CPG"):
        cpg = shp.with_suffix(suffix)
        if cpg.is_file():
            text = cpg.read_bytes().decode("ascii", errors="replace").strip()
            return text or None
    return None


def read_ldid(shp: Path) -> int:
    for suffix in (".dbf", ".DBF"):
        dbf = shp.with_suffix(suffix)
        if dbf.is_file():
            with dbf.open("rb") as fh:
                header = fh.read(32)
            return header[29] if len(header) > 29 else 0
    return 0


def shapefile_encoding(shp: Path, explicit: str | None, sample: list[str]) -> Encoding:
    """Decide the encoding: --encoding, then .cpg, then the DBF language id, then sniff `sample`.

    `sample` holds raw (latin-1) strings read from the file, used only when nothing declares an encoding:
    text that is valid UTF-8 is almost never GBK by accident, so anything else is taken as GBK, the norm.
    """
    if explicit:
        return Encoding(codec_named(explicit), f"--encoding {explicit}")
    cpg = read_cpg(shp)
    if cpg:
        try:
            return Encoding(codec_named(cpg), f".cpg ({cpg})")
        except LayerIOError:
            raise LayerIOError(
                f".cpg 文件中的编码无法识别 the .cpg names an unknown encoding: {cpg!r};"
                "请用 --encoding 指定 give --encoding (e.g. GBK)"
            ) from None
    ldid = read_ldid(shp)
    if ldid in _LDID:
        return Encoding(_LDID[ldid], f"DBF language id 0x{ldid:02X}")
    raw = b"".join(s.encode(RAW) for s in sample)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return Encoding("gbk", "猜测 guessed (no .cpg; not UTF-8)")
    return Encoding("utf-8", "猜测 guessed (no .cpg; valid UTF-8)")
