"""`onboard.yaml`: which file of a city's handover folder is which layer.

    layers:
      admin-units: [{file: streets.shp, level: street}, {file: communities.shp, level: community}]
      buildings: {file: buildings.geojson, crs: EPSG:4547, encoding: GBK}
      addresses: {file: addresses.xlsx, fields: {address: 标准地址, building_code: 楼栋编码}}

An entry is a mapping or a list of them; `crs`, `encoding`, `fields` (our field ← their column) and
`source_layer` are allowed on every entry, `crs` and `encoding` also at the top as defaults, `level` on
admin units and `net` on grids.  Any layer may be missing.  Mistakes in the manifest are refused before
any file is read, each with what was wrong and where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from layers.io.errors import LayerIOError

MANIFEST = "onboard.yaml"
# Every layer name the manifest may use, in the order they are loaded (a layer may need the ones before
# it: buildings their communities, grids their communities, …).
LAYERS = (
    "admin-units",
    "roads",
    "water",
    "green",
    "buildings",
    "addresses",
    "house-units",
    "service-stations",
    "party-organisations",
    "grids",
    "video-points",
    "cases",
)
LEVELS = ("city", "district", "street", "community")
ENTRY_KEYS = {"file", "crs", "encoding", "fields", "source_layer", "level", "net"}


class ManifestError(LayerIOError):
    """The manifest cannot be used; nothing was read."""


@dataclass(frozen=True)
class Entry:
    layer: str
    path: Path
    crs: str | None = None
    encoding: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    source_layer: str | None = None
    level: str | None = None
    net: str | None = None

    @property
    def order(self) -> tuple[int, int]:
        return LAYERS.index(self.layer), LEVELS.index(self.level) if self.level in LEVELS else len(LEVELS)


def _text(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise ManifestError(f"{where}: 应为文本 must be text")
    return str(value).strip()


def _entry(folder: Path, layer: str, raw: object, where: str, defaults: dict) -> Entry:
    if isinstance(raw, str):
        raw = {"file": raw}
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: 应为 {{file: …}} 或其列表 must be {{file: …}} or a list of them")
    unknown = sorted(set(raw) - ENTRY_KEYS)
    if unknown:
        raise ManifestError(f"{where}: 未知的键 unknown keys {', '.join(map(str, unknown))}")
    name = _text(raw.get("file"), f"{where}.file")
    if name is None:
        raise ManifestError(f"{where}: 缺少 file missing file")
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents:
        raise ManifestError(f"{where}.file: 文件应在目录内 the file must be inside the folder: {name}")
    if not path.exists():
        raise ManifestError(f"{where}.file: 文件不存在 no such file: {name}")
    fields = raw.get("fields") or {}
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        raise ManifestError(f"{where}.fields: 应为 我方字段: 对方列名 must map our field to their column")
    level = _text(raw.get("level"), f"{where}.level")
    if layer == "admin-units" and level is not None and level not in LEVELS:
        raise ManifestError(f"{where}.level: 应为 must be one of {', '.join(LEVELS)}")
    if layer != "admin-units" and level is not None:
        raise ManifestError(f"{where}.level: 只用于 admin-units only for admin-units")
    net = _text(raw.get("net"), f"{where}.net")
    if layer != "grids" and net is not None:
        raise ManifestError(f"{where}.net: 只用于 grids only for grids")
    return Entry(
        layer=layer,
        path=path,
        crs=_text(raw.get("crs"), f"{where}.crs") or defaults.get("crs"),
        encoding=_text(raw.get("encoding"), f"{where}.encoding") or defaults.get("encoding"),
        fields=dict(fields),
        source_layer=_text(raw.get("source_layer"), f"{where}.source_layer"),
        level=level,
        net=net or ("comprehensive" if layer == "grids" else None),
    )


@dataclass(frozen=True)
class Manifest:
    entries: list[Entry]
    # `draw_grids: {target: N, village_target: M}`: the grid drawing assistant draws the comprehensive
    # grids of the loaded districts (and they are published) after the files are loaded
    draw_grids: dict[str, int] | None = None


def _draw_grids(raw: object) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"target", "village_target"} or "target" not in raw:
        raise ManifestError(
            "draw_grids: 应为 {target: 户数, village_target: 户数} must be {target: N, village_target: M}"
        )
    out = {}
    for key in ("target", "village_target"):
        value = raw.get(key, raw["target"])
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ManifestError(f"draw_grids.{key}: 应为正整数 must be a positive whole number")
        out[key] = value
    return out


def read_manifest(folder: Path) -> Manifest:
    """The entries of DIR/onboard.yaml, in loading order."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ManifestError(f"目录中没有 {MANIFEST} the folder has no {MANIFEST}: {folder}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{MANIFEST} 无法解析 cannot be parsed: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), dict):
        raise ManifestError(f"{MANIFEST}: 应有 layers: {{图层: 文件}} needs layers: {{layer: file}}")
    defaults = {k: _text(doc.get(k), k) for k in ("crs", "encoding")}
    entries = []
    for layer, raw in doc["layers"].items():
        if layer not in LAYERS:
            raise ManifestError(f"layers.{layer}: 未知图层 unknown layer (known: {', '.join(LAYERS)})")
        items = raw if isinstance(raw, list) else [raw]
        for i, item in enumerate(items):
            where = f"layers.{layer}" + (f"[{i}]" if isinstance(raw, list) else "")
            entries.append(_entry(folder, layer, item, where, defaults))
    unknown = sorted(set(doc) - {"layers", "crs", "encoding", "draw_grids"})
    if unknown:
        raise ManifestError(f"{MANIFEST}: 未知的键 unknown keys {', '.join(map(str, unknown))}")
    return Manifest(sorted(entries, key=lambda e: e.order), _draw_grids(doc.get("draw_grids")))
