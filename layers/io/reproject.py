"""Coordinate reference systems and reprojection.

Everything is stored in CGCS2000 (EPSG:4490).  Files arrive in it, in WGS84, or in a CGCS2000 3-degree
Gauss-Kruger zone (EPSG:4534–4554, e.g. 4547), sometimes with an ESRI-flavoured .prj.  pyproj is used
with always_xy=True because EPSG:4490 is latitude-first in the EPSG database, while files and shapely
are x = longitude: forgetting that swaps every coordinate silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from .errors import LayerIOError

STORAGE_CRS = "EPSG:4490"


def parse_crs(text: str) -> pyproj.CRS:
    """A CRS from user input (EPSG:4547, 4547, WKT, PROJ string); a clear error instead of pyproj's."""
    value = text.strip()
    if value.isdigit():
        value = f"EPSG:{value}"
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        raise LayerIOError(
            f"无法识别的坐标系 unknown CRS: {text!r}(例如 e.g. EPSG:4490, EPSG:4547)"
        ) from None


def crs_of_source(src: Any) -> pyproj.CRS | None:
    """The CRS a fiona collection declares (.prj, GeoPackage srs, GeoJSON crs member), or None."""
    crs = src.crs
    if not crs:
        return None
    wkt = crs.to_wkt()
    if not wkt:
        return None
    try:
        return pyproj.CRS.from_wkt(wkt)
    except pyproj.exceptions.CRSError:
        raise LayerIOError(
            "文件中的坐标系无法解析 the file's CRS cannot be parsed; 请用 --crs 指定 give --crs"
        ) from None


def describe(crs: pyproj.CRS) -> str:
    """EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E), or the name when there is no EPSG code."""
    code = crs.to_epsg(min_confidence=90)
    return f"EPSG:{code} ({crs.name})" if code else crs.name


class Reprojector:
    """Reprojects shapely geometries between two CRSs, keeping x = easting / longitude."""

    def __init__(self, source: pyproj.CRS, target: pyproj.CRS) -> None:
        self.source = source
        self.target = target
        self.identity = source == target
        self._transformer = pyproj.Transformer.from_crs(source, target, always_xy=True)

    def point(self, x: float, y: float) -> tuple[float, float]:
        return self._transformer.transform(x, y)

    def __call__(self, geom: BaseGeometry) -> BaseGeometry:
        if self.identity:
            return geom
        return shapely.transform(geom, self._transform_xy)

    def many(self, geoms: np.ndarray) -> np.ndarray:
        """Vectorised over an array of geometries (exports transform thousands at once)."""
        if self.identity:
            return geoms
        return shapely.transform(geoms, self._transform_xy)

    def _transform_xy(self, coords: np.ndarray) -> np.ndarray:
        x, y = self._transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])


def all_finite(geom: BaseGeometry) -> bool:
    """PROJ answers inf for points outside a projection's domain instead of raising."""
    coords = shapely.get_coordinates(geom)
    return bool(np.isfinite(coords).all()) if len(coords) else True
