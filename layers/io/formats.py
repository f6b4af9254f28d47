"""The three file formats we read and write, and what each can and cannot carry.

Planners exchange data with ArcGIS / QGIS / 超图 users in exactly these three; anything else GDAL reads
can be converted with ogr2ogr first, which keeps the validation below in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import LayerIOError


@dataclass(frozen=True)
class Format:
    driver: str  # the GDAL / fiona driver name
    label: str
    extensions: tuple[str, ...]
    # Shapefiles have no datetime type and 10-character field names; the others have neither limit.
    datetime_fields: bool
    max_field_name: int | None
    # Files beside the main one that belong to the same dataset (removed / moved together).
    sidecars: tuple[str, ...] = ()

    @property
    def is_shapefile(self) -> bool:
        return self.driver == "ESRI Shapefile"


GPKG = Format("GPKG", "GeoPackage", (".gpkg",), datetime_fields=True, max_field_name=None)
GEOJSON = Format("GeoJSON", "GeoJSON", (".geojson", ".json"), datetime_fields=True, max_field_name=None)
SHAPEFILE = Format(
    "ESRI Shapefile",
    "ESRI Shapefile",
    (".shp",),
    datetime_fields=False,
    max_field_name=10,
    sidecars=(".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml"),
)
FORMATS: dict[str, Format] = {f.driver: f for f in (GPKG, GEOJSON, SHAPEFILE)}

_ALIASES = {
    "gpkg": GPKG,
    "geopackage": GPKG,
    "geojson": GEOJSON,
    "json": GEOJSON,
    "esri shapefile": SHAPEFILE,
    "shapefile": SHAPEFILE,
    "shp": SHAPEFILE,
}


def format_named(name: str) -> Format:
    """Accept the GDAL driver name or a common short name (`--format shp`), case-insensitively."""
    fmt = _ALIASES.get(name.strip().lower())
    if fmt is None:
        raise LayerIOError(
            f'不支持的格式 unsupported format: {name!r}(可选 choose one of: GPKG, GeoJSON, "ESRI Shapefile")'
        )
    return fmt


def format_for_path(path: Path) -> Format | None:
    """The format an output file name implies, or None when its extension says nothing we know."""
    suffix = path.suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.extensions:
            return fmt
    return None


def resolve_output_format(path: Path, name: str | None) -> Format:
    """--format wins; otherwise the extension decides.  A contradiction is an error, not a guess."""
    by_path = format_for_path(path)
    if name:
        fmt = format_named(name)
        if by_path is not None and by_path is not fmt:
            raise LayerIOError(
                f"文件扩展名 {path.suffix} 与格式 {fmt.label} 不符 "
                f"the extension {path.suffix} does not match --format {fmt.driver}"
            )
        if by_path is None:
            raise LayerIOError(
                f"请使用扩展名 {' / '.join(fmt.extensions)} name the output file with {fmt.extensions[0]} "
                f"(got {path.name})"
            )
        return fmt
    if by_path is None:
        raise LayerIOError(
            f"无法从文件名判断格式 cannot tell the format from {path.name!r}: "
            "use .gpkg, .geojson or .shp, or give --format"
        )
    return by_path


def dataset_files(path: Path, fmt: Format) -> list[Path]:
    """Every file that makes up the dataset at `path` (a shapefile is up to nine files)."""
    files = [path]
    stem = path.with_suffix("")
    for ext in fmt.sidecars:
        files.append(stem.with_name(stem.name + ext))
    return files
