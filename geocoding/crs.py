"""Coordinate systems the API accepts, and conversion to and from CGCS2000 (EPSG:4490).

EPSG codes go through pyproj.  GCJ-02 (the offset domestic phone map SDKs report) and BD-09 (Baidu's,
on top of GCJ-02) are not in PROJ — its maintainers declined them — so they are implemented here from the
published formulas (Krasovsky ellipsoid a = 6378245, e² = 0.00669342162296594323).  Hand-written because
no maintained, dependency-free library offers an exact inverse: the usual one-step inverse is off by up to
a few metres, so `gcj02_to_wgs84` iterates the forward transform to sub-millimetre agreement.  CGCS2000
and WGS84 differ by centimetres, below what these offsets mean, so GCJ-02 is applied to CGCS2000 as is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer

A = 6378245.0
EE = 0.00669342162296594323
X_PI = math.pi * 3000.0 / 180.0

# CGCS2000 Gauss-Kruger zones: 4491–4512 (6°), 4513–4533 (3° with zone prefix), 4534–4554 (3°, CM 75–135E).
GK_CODES = range(4491, 4555)
GEOGRAPHIC = {4490, 4326, "GCJ02", "BD09"}


class CRSError(ValueError):
    """An unknown or unsupported `crs` value."""


@dataclass(frozen=True)
class RefSystem:
    key: int | str  # EPSG number, or "GCJ02" / "BD09"
    label: str  # as echoed in answers: EPSG:4490, GCJ02 …

    @property
    def geographic(self) -> bool:
        return self.key in GEOGRAPHIC


_ALIASES = {
    "CGCS2000": 4490,
    "WGS84": 4326,
    "WGS-84": 4326,
    "CRS84": 4326,
    "WEBMERCATOR": 3857,
    "WEB MERCATOR": 3857,
    "GCJ02": "GCJ02",
    "GCJ-02": "GCJ02",
    "GCJ": "GCJ02",
    "BD09": "BD09",
    "BD-09": "BD09",
    "BD09LL": "BD09",
}
_EPSG = re.compile(
    r"^(?:EPSG:{1,2}|URN:OGC:DEF:CRS:EPSG:(?:[\d.]*):|HTTP://WWW\.OPENGIS\.NET/DEF/CRS/EPSG/0/)?(\d{4,5})$"
)


def parse_crs(value: str | None) -> RefSystem:
    """`EPSG:4490` (default), `EPSG:4326`, `EPSG:3857`, CGCS2000 Gauss-Kruger codes, `GCJ02`, `BD09`."""
    raw = (value or "EPSG:4490").strip().upper()
    if len(raw) > 80:
        raise CRSError("crs too long")
    if raw in _ALIASES:
        key = _ALIASES[raw]
    else:
        m = _EPSG.match(raw)
        if not m:
            raise CRSError(raw)
        key = int(m.group(1))
    if isinstance(key, int) and key not in (4490, 4326, 3857) and key not in GK_CODES:
        raise CRSError(raw)
    label = key if isinstance(key, str) else f"EPSG:{key}"
    return RefSystem(key, label)


@lru_cache(maxsize=64)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


@lru_cache(maxsize=64)
def valid_bounds(key: int | str) -> tuple[float, float, float, float]:
    """Bounds of valid input in the system's own units (area of use for projected systems)."""
    if key in GEOGRAPHIC:
        return (-180.0, -90.0, 180.0, 90.0)
    crs = CRS.from_epsg(key)
    west, south, east, north = crs.area_of_use.bounds
    xs, ys = _transformer(4490, key).transform([west, east, west, east], [south, south, north, north])
    pad = 50_000.0  # zones are used a little past their edges
    return (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)


# ---------------------------------------------------------------- GCJ-02 and BD-09 (numpy, vectorised)
def out_of_china(lon, lat):
    """GCJ-02 leaves points outside this published box unchanged."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon, lat):
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1 - EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    outside = out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def _invert(forward, x, y, tol: float = 1e-10, max_iter: int = 50):
    """Solve forward(p) = (x, y) by fixed-point iteration: the offsets change slowly, so each step gains
    about three decimal places; 1e-10 degrees is about 0.01 mm."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    px, py = x.copy(), y.copy()
    for _ in range(max_iter):
        fx, fy = forward(px, py)
        ex, ey = fx - x, fy - y
        px, py = px - ex, py - ey
        if np.all(np.abs(ex) < tol) and np.all(np.abs(ey) < tol):
            break
    return px, py


def gcj02_to_wgs84(lon, lat):
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon, lat):
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat):
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# ---------------------------------------------------------------- to and from the stored CRS
def to_storage(x, y, system: RefSystem):
    """Coordinates in `system` → CGCS2000 lon/lat (arrays or scalars)."""
    if system.key == "GCJ02":
        return gcj02_to_wgs84(x, y)
    if system.key == "BD09":
        return bd09_to_wgs84(x, y)
    if system.key == 4490:
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    lon, lat = _transformer(system.key, 4490).transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def from_storage(lon, lat, system: RefSystem):
    """CGCS2000 lon/lat → coordinates in `system`."""
    if system.key == "GCJ02":
        return wgs84_to_gcj02(lon, lat)
    if system.key == "BD09":
        return wgs84_to_bd09(lon, lat)
    if system.key == 4490:
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    x, y = _transformer(4490, system.key).transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def rounded(value: float, system: RefSystem) -> float:
    """About a centimetre: 8 decimals of a degree, 2 of a metre."""
    return round(float(value), 8 if system.geographic else 2)
