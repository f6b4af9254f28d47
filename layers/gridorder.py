"""The order grid codes are numbered in within a community (pure Python, no Django): the demo city's
generator, a redraw's new grids and the assistant's proposals all number by this one rule."""

from __future__ import annotations

import math
from collections.abc import Sequence


def reading_order(points: Sequence[tuple[float, float]], band: float) -> list[int]:
    """Indices of `points` in the grid-code order: west → east along a band, bands north → south."""
    if not points:
        return []
    top = max(p[1] for p in points)
    band = max(band, 1e-9)
    return sorted(range(len(points)), key=lambda i: (math.floor((top - points[i][1]) / band), points[i][0]))
