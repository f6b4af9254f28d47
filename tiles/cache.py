"""The in-memory tile cache of one server process, and exactly which cached tiles a change touches.

Entries are one MVT layer part each, keyed (layer, z, x, y, scope): a composite tile is the concatenation
of its parts (the MVT format allows it), so a change to cases drops only the case parts of the cached
composites.  Triggers on the source tables NOTIFY the Web Mercator boxes of the old and new geometry of
every changed row (tiles.schema); every server process LISTENs (tiles.listener) and calls `invalidate()`,
which drops, at every zoom, the tiles whose buffered envelope meets a box, so edits made through the
admin, SQL, importers or another worker all reach every process.  Clustered zooms widen each box to the
cluster cells it falls in (a cell's cluster point moves anywhere inside the cell).

A request that read the database before a change and stores its tile after the change was announced
would cache a stale tile: `epoch` counts invalidations, and `put()` refuses a tile computed under an
older epoch.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from .plan import BUFFER, CLUSTER_CELLS, EXTENT, MAX_ZOOM, ORIGIN, WORLD, plans

Key = tuple[str, int, int, int, str]  # layer, z, x, y, scope


def etag_of(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True)
class Part:
    data: bytes
    etag: str


def tile_range(
    box: tuple[float, float, float, float], z: int, margin: float = 0.0
) -> tuple[int, int, int, int]:
    """Tiles x0..x1, y0..y1 at zoom z whose envelope, widened by `margin` of a tile, meets the box.

    Hand-written (not mercantile/morecantile) because these work in longitude/latitude, while the boxes
    arrive in Web Mercator metres and must match ST_TileEnvelope's own arithmetic.
    """
    n = 2**z
    size = WORLD / n
    xmin, ymin, xmax, ymax = box
    pad = margin * size
    x0 = math.floor((xmin - pad + ORIGIN) / size)
    x1 = math.floor((xmax + pad + ORIGIN) / size)
    y0 = math.floor((ORIGIN - ymax - pad) / size)
    y1 = math.floor((ORIGIN - ymin + pad) / size)
    return max(x0, 0), max(y0, 0), min(x1, n - 1), min(y1, n - 1)


def cell_tile_range(box: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """Tiles holding the cluster cells the box meets (the cell arithmetic of the cluster triggers)."""
    n = 2**z
    cell = WORLD / (n * CLUSTER_CELLS)
    xmin, ymin, xmax, ymax = box
    x0 = math.floor((xmin + ORIGIN) / cell) // CLUSTER_CELLS
    x1 = math.floor((xmax + ORIGIN) / cell) // CLUSTER_CELLS
    y0 = math.floor((ORIGIN - ymax) / cell) // CLUSTER_CELLS
    y1 = math.floor((ORIGIN - ymin) / cell) // CLUSTER_CELLS
    return max(x0, 0), max(y0, 0), min(x1, n - 1), min(y1, n - 1)


class TileCache:
    """An LRU of tile parts bounded in bytes, with an index per (layer, zoom) for precise invalidation."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.epoch = 0
        self.hits = 0
        self.misses = 0
        self._lru: OrderedDict[Key, Part] = OrderedDict()
        self._index: dict[tuple[str, int], dict[tuple[int, int], set[Key]]] = {}
        self._lock = threading.Lock()  # the event loop is single-threaded; this guards tests and threads

    def __len__(self) -> int:
        return len(self._lru)

    def get(self, key: Key) -> Part | None:
        part = self._lru.get(key)
        if part is None:
            self.misses += 1
            return None
        self._lru.move_to_end(key)
        self.hits += 1
        return part

    def put(self, key: Key, part: Part, epoch: int) -> bool:
        """Store unless an invalidation happened since `epoch` (the tile may predate it) or it is too big."""
        if self.max_bytes <= 0 or epoch != self.epoch or len(part.data) > self.max_bytes // 8:
            return False
        with self._lock:
            old = self._lru.pop(key, None)
            if old is not None:
                self.bytes -= len(old.data)
            self._lru[key] = part
            self.bytes += len(part.data)
            layer, z, x, y, _ = key
            self._index.setdefault((layer, z), {}).setdefault((x, y), set()).add(key)
            while self.bytes > self.max_bytes and self._lru:
                self._drop(next(iter(self._lru)))
        return True

    def _drop(self, key: Key) -> None:
        part = self._lru.pop(key, None)
        if part is None:
            return
        self.bytes -= len(part.data)
        layer, z, x, y, _ = key
        cells = self._index.get((layer, z))
        if cells is not None:
            keys = cells.get((x, y))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del cells[(x, y)]

    def clear(self, layers: Iterable[str] | None = None) -> int:
        """Drop every tile (of `layers`, or of all layers); returns how many parts were dropped."""
        with self._lock:
            self.epoch += 1
            if layers is None:
                n = len(self._lru)
                self._lru.clear()
                self._index.clear()
                self.bytes = 0
                return n
            wanted = set(layers)
            doomed = [k for k in self._lru if k[0] in wanted]
            for k in doomed:
                self._drop(k)
            return len(doomed)

    def invalidate(self, layer: str, boxes: Iterable[tuple[float, float, float, float]]) -> int:
        """Drop the cached tiles of `layer` that draw anything inside one of the boxes, at every zoom."""
        p = plans()[layer]
        cluster_zooms = set(p.cluster_zooms)
        boxes = list(boxes)
        dropped = 0
        with self._lock:
            self.epoch += 1
            for z in range(MAX_ZOOM + 1):
                cells = self._index.get((layer, z))
                if not cells:
                    continue
                doomed: set[Key] = set()
                for box in boxes:
                    if z in cluster_zooms:
                        x0, y0, x1, y1 = cell_tile_range(box, z)
                    else:
                        x0, y0, x1, y1 = tile_range(box, z, margin=BUFFER / EXTENT)
                    if (x1 - x0 + 1) * (y1 - y0 + 1) > len(cells):
                        doomed.update(
                            k
                            for (x, y), keys in cells.items()
                            if x0 <= x <= x1 and y0 <= y <= y1
                            for k in keys
                        )
                    else:
                        for x in range(x0, x1 + 1):
                            for y in range(y0, y1 + 1):
                                doomed.update(cells.get((x, y), ()))
                for k in doomed:
                    self._drop(k)
                dropped += len(doomed)
        return dropped
