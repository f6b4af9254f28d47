"""Glyph PBFs for MapLibre labels, made at build time from a font shipped by Debian.

MapLibre draws text from signed-distance-field (SDF) glyphs fetched per range of 256 code points from the
style's `glyphs` URL.  It renders CJK ideographs locally (`localIdeographFontFamily`), but digits, Latin
letters and CJK punctuation (、。（）：) always come from that URL, so a closed network needs its own
glyph server.  `build()` renders every glyph of a font (WenQuanYi Micro Hei from `fonts-wqy-microhei`,
which covers Latin, CJK punctuation and all common ideographs) with FreeType's own SDF renderer and writes
one `{start}-{end}.pbf` per range under var/glyphs/{fontstack}/; the tile server serves them.  Because the
ideographs are there too, a client without any Chinese font still labels the map (MapLibre option
`localIdeographFontFamily: false`).

The files follow the format of mapbox/node-fontnik and maplibre/font-maker: a 24 px em, a 3 px border,
value 191 on the outline and 32 levels per pixel (8 px radius), metrics rounded to whole pixels, `top`
measured from the ascender.  Run: `python -m tiles.glyphs [--font PATH] [--out DIR]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FONTS = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
]
GLYPHS_DIR = Path(os.environ.get("ONENET_GLYPHS_DIR", ROOT / "var" / "glyphs"))
EM = 24  # px: the size MapLibre's glyph PBFs are made at
BORDER = 3  # px of SDF around each glyph bitmap
SPREAD = 8  # px: FreeType's SDF spread, = the 8 px radius of the PBF format
SDF_RENDER_MODE = 5  # FT_RENDER_MODE_SDF (FreeType >= 2.11)
# Unicode blocks MapLibre renders with the browser's own font unless localIdeographFontFamily is false:
# CJK Unified Ideographs (+ extension A, compatibility), Hangul syllables, Hiragana and Katakana.
LOCAL_BLOCKS = [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xAC00, 0xD7AF), (0x3040, 0x30FF)]


# -- a minimal protobuf writer -------------------------------------------------------------------------
# Hand-written because the glyph schema is three tiny messages (glyphs > fontstack > glyph); a generated
# protobuf module would add a build step and a runtime dependency for these few lines.


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _uint(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint(n)


def _sint(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint((n << 1) ^ (n >> 63))


def _bytes(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def default_font() -> str | None:
    explicit = os.environ.get("ONENET_GLYPH_FONT")
    if explicit:
        return explicit
    return next((p for p in DEFAULT_FONTS if Path(p).exists()), None)


def _sdf_glyph(face, char_index: int):
    """(bitmap, width, height, left, top, advance) of one glyph, or None if the font cannot draw it."""
    import freetype
    import numpy as np

    face.load_glyph(char_index, freetype.FT_LOAD_NO_HINTING)
    slot = face.glyph
    advance = slot.metrics.horiAdvance // 64
    ascender = face.size.ascender // 64
    if slot.format != freetype.FT_GLYPH_FORMAT_OUTLINE or slot.outline.n_points == 0:
        return b"", 0, 0, 0, -ascender, advance  # a space: metrics only
    box = slot.outline.get_bbox()
    xmin, ymin = round(box.xMin / 64), round(box.yMin / 64)
    xmax, ymax = round(box.xMax / 64), round(box.yMax / 64)
    width, height = xmax - xmin, ymax - ymin
    if width <= 0 or height <= 0:
        return b"", 0, 0, 0, -ascender, advance
    slot.render(SDF_RENDER_MODE)
    bm = slot.bitmap
    src = np.frombuffer(bytes(bm.buffer), dtype=np.uint8).reshape(bm.rows, bm.pitch)[:, : bm.width]
    # FreeType: 128 on the outline, +128/SPREAD per pixel inwards.  PBF: 191 on the outline, +32 per pixel.
    sdf = np.clip(src.astype(np.int32) * (256 // SPREAD) // (128 // SPREAD) - 2 * 128 + 191, 0, 255)
    # Cut the glyph box plus BORDER out of FreeType's box plus SPREAD (both anchored at the pen position).
    out = np.zeros((height + 2 * BORDER, width + 2 * BORDER), dtype=np.uint8)
    col0 = (xmin - BORDER) - slot.bitmap_left
    row0 = slot.bitmap_top - (ymax + BORDER)
    rows = slice(max(row0, 0), min(row0 + out.shape[0], sdf.shape[0]))
    cols = slice(max(col0, 0), min(col0 + out.shape[1], sdf.shape[1]))
    out[rows.start - row0 : rows.stop - row0, cols.start - col0 : cols.stop - col0] = sdf[rows, cols]
    return out.tobytes(), width, height, xmin, ymax - ascender, advance


def fontstack_name(face) -> str:
    return f"{face.family_name.decode()} {face.style_name.decode()}"


def locally_rendered(code: int) -> bool:
    """Code points MapLibre draws itself by default (localIdeographFontFamily): CJK, Hangul, kana."""
    return any(lo <= code <= hi for lo, hi in LOCAL_BLOCKS)


def build(
    font: str | None = None, out_dir: Path = GLYPHS_DIR, ideographs: bool = False, progress: bool = True
) -> Path:
    """Write the 256-code-point ranges of the font; returns the fontstack directory.

    By default only what MapLibre cannot draw locally (about 2,000 glyphs, seconds); `ideographs=True`
    adds the 30,000 ideographs (about 3 minutes, 25 MB) for clients without a Chinese font.
    """
    import freetype

    font = font or default_font()
    if not font:
        raise FileNotFoundError(
            "no CJK font found; install fonts-wqy-microhei (apt) or set ONENET_GLYPH_FONT"
        )
    face = freetype.Face(font, 0)
    face.set_char_size(EM * 64)
    name = fontstack_name(face)
    target = out_dir / name
    target.mkdir(parents=True, exist_ok=True)
    by_range: dict[int, list[tuple[int, int]]] = {}
    for code, index in face.get_chars():
        if 0 < code <= 0xFFFF and index and (ideographs or not locally_rendered(code)):
            by_range.setdefault(code // 256, []).append((code, index))
    started = time.monotonic()
    for n, (block, chars) in enumerate(sorted(by_range.items()), 1):
        start, end = block * 256, block * 256 + 255
        glyphs = b"".join(_bytes(3, _glyph_message(face, code, index)) for code, index in chars)
        stack = _bytes(1, name.encode()) + _bytes(2, f"{start}-{end}".encode()) + glyphs
        (target / f"{start}-{end}.pbf").write_bytes(_bytes(1, stack))
        if progress and n % 16 == 0:
            print(f"glyphs: {n}/{len(by_range)} ranges", file=sys.stderr)
    # An empty range answers requests for blocks the font lacks, so MapLibre never waits on a 404.
    (target / "empty.pbf").write_bytes(_bytes(1, _bytes(1, name.encode()) + _bytes(2, b"0-255")))
    if progress:
        print(
            f"glyphs: {name}: {len(by_range)} ranges in {time.monotonic() - started:.1f} s", file=sys.stderr
        )
    return target


def _glyph_message(face, code: int, index: int) -> bytes:
    bitmap, width, height, left, top, advance = _sdf_glyph(face, index)
    msg = _uint(1, code)
    if bitmap:
        msg += _bytes(2, bitmap)
    return (
        msg + _uint(3, width) + _uint(4, height) + _sint(5, left) + _sint(6, top) + _uint(7, max(advance, 0))
    )


def fontstacks(glyphs_dir: Path = GLYPHS_DIR) -> list[str]:
    if not glyphs_dir.is_dir():
        return []
    return sorted(p.name for p in glyphs_dir.iterdir() if (p / "0-255.pbf").exists())


class GlyphStore:
    """Glyph ranges read once from var/glyphs and kept in memory (a whole font is ~20 MB)."""

    def __init__(self, glyphs_dir: Path = GLYPHS_DIR) -> None:
        self.dir = glyphs_dir
        self._cache: dict[tuple[str, int], bytes | None] = {}

    def default_stack(self) -> str | None:
        stacks = fontstacks(self.dir)
        return stacks[0] if stacks else None

    def get(self, fontstack: str, start: int) -> bytes | None:
        """The range starting at `start` for the first stack in the comma list that we have (or ours)."""
        stacks = fontstacks(self.dir)
        if not stacks:
            return None
        wanted = [s.strip() for s in fontstack.split(",")]
        stack = next((s for s in wanted if s in stacks), stacks[0])
        key = (stack, start)
        if key not in self._cache:
            path = self.dir / stack / f"{start}-{start + 255}.pbf"
            self._cache[key] = (
                path.read_bytes() if path.exists() else (self.dir / stack / "empty.pbf").read_bytes()
            )
        return self._cache[key]


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="build MapLibre glyph PBFs from a font (offline)")
    parser.add_argument("--font", default=None)
    parser.add_argument("--out", default=str(GLYPHS_DIR))
    parser.add_argument("--ideographs", action="store_true", help="also the CJK ideographs (slow, 25 MB)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    build(args.font, Path(args.out), ideographs=args.ideographs)


if __name__ == "__main__":
    main()
