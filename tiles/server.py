"""The tile hot path: a small raw-ASGI application mounted under /tiles/ beside Django.

Per tile request it parses the path, answers from the in-memory cache when it can, and otherwise runs
one prepared statement per missing layer on a psycopg 3 async connection pool — no Django request object,
middleware, URL resolver or ORM query.  Only logged-in requests for internal layers consult Django (the
session or token → jurisdiction, cached a few seconds; see tiles.auth).  docs/TILES.md argues the design.

Routes:
  GET /tiles/{layers}/{z}/{x}/{y}.mvt       one MVT layer per requested layer id (comma-separated)
  GET /tiles/{layers}.json                  TileJSON 3.0.0
  GET /tiles/style.json                     the MapLibre style of the whole map
  GET /tiles/glyphs/{fontstack}/{range}.pbf glyphs for labels (built at install time, tiles.glyphs)
  GET /tiles/                               the layers on offer
Errors are JSON with a reason in Chinese and English; an empty tile is `204 No Content`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from typing import Any
from urllib.parse import unquote

import psycopg
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gisapp.accounts.jurisdiction import Jurisdiction
from layers.models import AdminUnit, Building, GenerationStatus
from layers.registry import LAYERS, LayerSpec

from . import documents
from .auth import Authenticator, credentials
from .cache import Key, Part, TileCache, etag_of
from .glyphs import GlyphStore
from .plan import MAX_ZOOM, plans
from .queries import tile_query
from .schema import CHANNEL

log = logging.getLogger(__name__)

MVT = b"application/vnd.mapbox-vector-tile"
JSON = b"application/json; charset=utf-8"
TILE_PATH = re.compile(r"^/tiles/([^/]+)/([^/]+)/([^/]+)/([^/]+)\.mvt$")
TILEJSON_PATH = re.compile(r"^/tiles/([^/]+)\.json$")
GLYPH_PATH = re.compile(r"^/tiles/glyphs/([^/]+)/(\d{1,5})-(\d{1,5})\.pbf$")
LAYER_ID = re.compile(r"^[a-z0-9-]{1,64}$")
INT = re.compile(r"^\d{1,9}$")
POOL_TIMEOUT = 10.0  # s to wait for a free connection before answering 503


class HttpError(Exception):
    def __init__(self, status: int, zh: str, en: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(en)
        self.status, self.zh, self.en, self.headers = status, zh, en, headers or []


def _conninfo() -> str:
    db = settings.DATABASES["default"]
    timeout = os.environ.get("ONENET_TILE_STATEMENT_TIMEOUT_MS", "10000")
    return make_conninfo(
        dbname=db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=str(db.get("PORT") or "") or None,
        application_name="onenet-tiles",
        # JIT compilation and parallel workers cost more than a tile query itself.
        options=f"-c statement_timeout={timeout} -c jit=off -c max_parallel_workers_per_gather=0",
    )


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Access:
    """How one layer is read for one requester: a mode of tiles.queries, its cache scope and parameters."""

    __slots__ = ("mode", "scope", "params", "private")

    def __init__(self, mode: str, scope: str, params: dict[str, Any], private: bool) -> None:
        self.mode, self.scope, self.params, self.private = mode, scope, params, private


def access_for(spec: LayerSpec, j: Jurisdiction | None) -> Access | None:
    """The rule of LayerSpec.visible_to in tile terms; None: the requester may not read the layer."""
    p = plans()[spec.id]
    if spec.public and spec.public_filter is None:
        return Access("all", "-", {}, private=False)
    if j is None:
        return Access("public", "-", {}, private=False) if spec.public else None
    if j.everything:
        return Access("all", "*", {}, private=True)
    dept = j.department_id if p.department_column else None
    prefix = _like_prefix(j.prefix) if j.prefix else None
    params = {"prefix": prefix, "dept": dept}
    scope = f"{j.prefix or ''}|{dept if dept is not None else ''}"
    if spec.public:
        return Access("public+scope", scope, params, private=True)
    return Access("scope", scope, params, private=True)


class TileServer:
    def __init__(self) -> None:
        cache_mb = float(os.environ.get("ONENET_TILE_CACHE_MB", "256"))
        self.cache = TileCache(int(cache_mb * 1024 * 1024))
        self.auth = Authenticator()
        self.glyphs = GlyphStore()
        self.pool_size = int(os.environ.get("ONENET_TILE_POOL", "8"))
        self.listen = os.environ.get("ONENET_TILE_LISTEN", "1") != "0"
        self.pool: AsyncConnectionPool | None = None
        self.listening = False  # caching is off while no LISTEN connection could miss a change
        self._listener: asyncio.Task | None = None
        self._start_lock: asyncio.Lock | None = None
        self._inflight: dict[Key, asyncio.Future] = {}
        self._bounds: list[float] | None = None
        self._sources: list[str] = []  # Building.source values loaded, read with the bounds
        # Every map client asks for style.json and TileJSON in its first second: one of them computes the
        # city's extent and the others wait for it, instead of each taking a pooled connection to repeat it.
        self._bounds_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()  # background re-plans, referenced until done
        self._generation_timer: asyncio.TimerHandle | None = None
        self._own: dict[str, list[str]] = {}
        self._dependent: dict[str, list[str]] = {}
        for p in plans().values():
            self._own.setdefault(p.source_table, []).append(p.id)
            for table in p.dependencies():
                self._dependent.setdefault(table, []).append(p.id)

    # ------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.pool is not None:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self.pool is not None:
                return
            pool = AsyncConnectionPool(
                _conninfo(),
                min_size=min(4, self.pool_size),  # no growth pauses under the first burst
                max_size=self.pool_size,
                open=False,
                kwargs={"autocommit": True, "prepare_threshold": 0},
            )
            await pool.open(wait=False)
            self.pool = pool
            if self.listen and self.cache.max_bytes > 0:
                self._listener = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass
            self._listener = None
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(_conninfo(), autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    # Changes made while nobody listened are unknown: start from an empty cache.
                    self.cache.clear()
                    self.listening = True
                    delay = 0.5
                    await self._schedule_generation_change(conn)
                    async for note in conn.notifies():
                        self.on_change(note.payload)
                        if '"layers_generation"' in note.payload:
                            # Not on this connection: psycopg's notifies() holds the connection's lock
                            # while it yields, so a query here would wait for itself for ever (and the
                            # cache would silently stop hearing about edits after a boundary publish).
                            self._tasks.add(task := asyncio.create_task(self._replan_generations()))
                            task.add_done_callback(self._tasks.discard)
            except asyncio.CancelledError:
                self.listening = False
                raise
            except Exception as exc:  # noqa: BLE001 - keep listening whatever happens
                log.warning("tiles: LISTEN connection lost (%s); retrying", exc)
            self.listening = False
            self.cache.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _schedule_generation_change(self, conn: psycopg.AsyncConnection) -> None:
        """A boundary generation that comes into force later changes grids without any write: plan a drop."""
        layers = [p.id for p in plans().values() if p.spec.tiles.current_generation]
        if not layers:
            return
        cur = await conn.execute(
            "SELECT extract(epoch FROM min(effective_from) - now()) FROM layers_generation "
            "WHERE status = ANY(%s) AND effective_from > now()",
            [[GenerationStatus.PUBLISHED.value, GenerationStatus.SUPERSEDED.value]],
        )
        row = await cur.fetchone()
        if self._generation_timer is not None:
            self._generation_timer.cancel()
            self._generation_timer = None
        if row and row[0] is not None:
            delay = min(float(row[0]) + 0.5, 86400.0)  # re-planned after a day at the latest
            loop = asyncio.get_running_loop()

            def fire() -> None:
                self.cache.clear(layers)
                loop.create_task(self._replan_generations())

            self._generation_timer = loop.call_later(delay, fire)

    async def _replan_generations(self) -> None:
        try:
            async with self.pool.connection(timeout=POOL_TIMEOUT) as conn:
                await self._schedule_generation_change(conn)
        except Exception as exc:  # noqa: BLE001 - a background task: log, the next change re-plans
            log.warning("tiles: could not plan the next generation change (%s)", exc)

    def on_change(self, payload: str) -> None:
        """Apply one NOTIFY from the source-table triggers (tiles.schema) to the cache."""
        try:
            note = json.loads(payload)
        except ValueError:
            return
        table = note.get("t")
        if table == "*":
            self.cache.clear()
            self._bounds = None
            return
        if table == AdminUnit._meta.db_table:
            self._bounds = None
        dependent = self._dependent.get(table, [])
        if dependent:
            self.cache.clear(dependent)
        for layer in self._own.get(table, []):
            if note.get("all"):
                self.cache.clear([layer])
            else:
                self.cache.invalidate(layer, [tuple(b) for b in note.get("b") or []])

    # ---------------------------------------------------------------------------------------- ASGI

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        head = scope["method"] == "HEAD"
        try:
            if scope["method"] not in ("GET", "HEAD"):
                raise HttpError(
                    405,
                    f"不支持 {scope['method']} 方法，只能 GET",
                    f"method {scope['method']} not allowed; use GET",
                    [(b"allow", b"GET, HEAD")],
                )
            await self.start()
            status, headers, body = await self.route(scope)
        except HttpError as exc:
            status, headers, body = self.error(exc)
        except (PoolTimeout, psycopg.OperationalError) as exc:  # includes statement timeouts
            log.warning("tiles: database busy or unreachable on %s: %s", scope.get("path"), exc)
            status, headers, body = self.error(
                HttpError(
                    503,
                    "数据库繁忙，请稍后重试",
                    "the database is busy; try again later",
                    [(b"retry-after", b"2")],  # the pages ask again after it (core/tilefetch.js)
                )
            )
        except Exception:
            log.exception("tiles: internal error on %s", scope.get("path"))
            status, headers, body = self.error(HttpError(500, "服务器内部错误", "internal server error"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})

    async def lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:  # noqa: BLE001 - the pool retries on its own; serve Django anyway
                    log.warning("tiles: could not start the pool: %s", exc)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def error(self, exc: HttpError) -> tuple[int, list, bytes]:
        body = json.dumps({"code": exc.status, "error": {"zh": exc.zh, "en": exc.en}}, ensure_ascii=False)
        headers = [(b"content-type", JSON), (b"cache-control", b"no-store"), *exc.headers]
        return exc.status, headers, body.encode()

    async def route(self, scope: dict) -> tuple[int, list, bytes]:
        path = scope["path"]
        m = TILE_PATH.match(path)
        if m:
            return await self.tile(scope, *m.groups())
        m = GLYPH_PATH.match(path)
        if m:
            return self.glyph(unquote(m.group(1)), int(m.group(2)), int(m.group(3)))
        if path == "/tiles/style.json":
            return await self.style(scope)
        m = TILEJSON_PATH.match(path)
        if m:
            return await self.tilejson(scope, m.group(1))
        if path in ("/tiles", "/tiles/"):
            return self.index()
        raise HttpError(404, f"未找到该资源：{path}", f"not found: {path}")

    # ---------------------------------------------------------------------------------------- tiles

    def _layers(self, text: str) -> list[LayerSpec]:
        ids = text.split(",")
        if len(ids) != len(set(ids)):
            raise HttpError(400, "图层重复", f"a layer is listed twice: {text}")
        unknown = [i for i in ids if not LAYER_ID.match(i) or i not in LAYERS]
        if unknown:
            raise HttpError(404, f"图层不存在：{unknown[0][:64]}", f"no such layer: {unknown[0][:64]}")
        return [LAYERS[i] for i in ids]

    async def _access(self, scope: dict, specs: list[LayerSpec]) -> list[Access]:
        j = None
        if any(not s.public or s.public_filter is not None for s in specs):
            creds = credentials(scope["headers"])
            j = await self.auth.jurisdiction(creds)
        out = []
        for spec in specs:
            a = access_for(spec, j)
            if a is None:
                raise HttpError(
                    401,
                    f"图层“{spec.title}”仅对登录用户开放，请先登录",
                    f"layer {spec.id} is internal: log in (session) or send Authorization: Bearer <token>",
                    [(b"www-authenticate", b'Bearer realm="onenet"')],
                )
            out.append(a)
        return out

    async def tile(self, scope: dict, layers: str, zs: str, xs: str, ys: str) -> tuple[int, list, bytes]:
        specs = self._layers(layers)
        if not (INT.match(zs) and INT.match(xs) and INT.match(ys)):
            raise HttpError(
                400, "瓦片坐标 z/x/y 必须是非负整数", f"z/x/y must be non-negative integers: {zs}/{xs}/{ys}"
            )
        z, x, y = int(zs), int(xs), int(ys)
        if z > MAX_ZOOM:
            raise HttpError(
                400, f"缩放级别 z 必须在 0 到 {MAX_ZOOM} 之间", f"z must be between 0 and {MAX_ZOOM}"
            )
        if x >= 2**z or y >= 2**z:
            raise HttpError(
                400, f"第 {z} 级的 x、y 必须小于 {2**z}", f"at zoom {z}, x and y must be below {2**z}"
            )
        accesses = await self._access(scope, specs)
        wanted: list[tuple[Key, int, Access]] = []
        for spec, acc in zip(specs, accesses, strict=True):
            band = plans()[spec.id].band_index(z)
            if band is not None:  # else the layer has nothing to draw at this zoom
                wanted.append(((spec.id, z, x, y, acc.scope), band, acc))
        cached = [self.cache.get(key) for key, _, _ in wanted]
        hit = all(p is not None for p in cached)
        if not hit:
            fetched = iter(
                await asyncio.gather(
                    *(
                        self._part(key, band, acc)
                        for (key, band, acc), p in zip(wanted, cached, strict=True)
                        if p is None
                    )
                )
            )
            cached = [p if p is not None else next(fetched) for p in cached]
        parts: list[Part] = cached  # type: ignore[assignment]
        body = b"".join(p.data for p in parts)
        etags = [p.etag for p in parts if p.data]
        etag = etags[0] if len(etags) == 1 else etag_of("".join(etags).encode())
        private = any(a.private for a in accesses)
        user_dependent = any(not s.public or s.public_filter is not None for s in specs)
        headers = [
            (b"etag", f'"{etag}"'.encode()),
            (b"cache-control", self._cache_control(specs, private)),
            (b"x-tile-cache", b"hit" if hit else b"miss"),
        ]
        if user_dependent:
            headers.append((b"vary", b"Cookie, Authorization"))
        if not private:
            headers.append((b"access-control-allow-origin", b"*"))
        if _matches(scope["headers"], etag):
            return 304, headers, b""
        if not body:
            return 204, headers, b""
        headers.append((b"content-type", MVT))
        return 200, headers, body

    @staticmethod
    def _cache_control(specs: list[LayerSpec], private: bool) -> bytes:
        if private:
            return b"private, no-cache"
        return f"public, max-age={min(s.tiles.max_age for s in specs)}".encode()

    async def _part(self, key: Key, band: int, acc: Access) -> Part:
        """One layer of one tile from the database, shared by concurrent requests for the same key."""
        waiting = self._inflight.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            epoch = self.cache.epoch
            layer, z, x, y, _ = key
            query = tile_query(layer, band, acc.mode)
            params = {"z": z, "x": x, "y": y, "prefix": None, "dept": None, **acc.params}
            async with self.pool.connection(timeout=POOL_TIMEOUT) as conn:
                cur = await conn.execute(query.sql, params, prepare=True)
                row = await cur.fetchone()
            data = bytes(row[0]) if row and row[0] else b""
            part = Part(data, etag_of(data))
            if self.listening:
                self.cache.put(key, part, epoch)
            future.set_result(part)
            return part
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._inflight.pop(key, None)

    # ------------------------------------------------------------------------------------ documents

    def _base(self, scope: dict) -> str:
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        domain, _ = split_domain_port(host)
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            raise HttpError(400, "主机名无效", f"invalid Host header: {host[:100]}")
        return f"{scope.get('scheme', 'http')}://{host}"

    async def _city_bounds(self) -> list[float] | None:
        if self._bounds is None:
            async with self._bounds_lock:
                if self._bounds is None:
                    async with self.pool.connection(timeout=POOL_TIMEOUT) as conn:
                        cur = await conn.execute(
                            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                            f"FROM (SELECT ST_Extent(geom) AS e FROM {AdminUnit._meta.db_table}) s"
                        )
                        row = await cur.fetchone()
                        # licensed sources whose rows are loaded (their credit joins the attribution)
                        cur = await conn.execute(
                            f"SELECT DISTINCT source FROM {Building._meta.db_table} WHERE source <> ''"
                        )
                        self._sources = sorted(r[0] for r in await cur.fetchall())
                    self._bounds = [float(v) for v in row] if row and row[0] is not None else []
        return self._bounds or None

    async def tilejson(self, scope: dict, layers: str) -> tuple[int, list, bytes]:
        specs = self._layers(layers)
        accesses = await self._access(scope, specs)
        bounds = await self._city_bounds()
        doc = documents.tilejson(self._base(scope), [s.id for s in specs], bounds, self._sources)
        private = any(a.private for a in accesses)
        return self._json(doc, b"private, no-cache" if private else b"public, max-age=60")

    async def style(self, scope: dict) -> tuple[int, list, bytes]:
        j = await self.auth.jurisdiction(credentials(scope["headers"]))
        font = self.glyphs.default_stack() or "WenQuanYi Micro Hei Regular"
        bounds = await self._city_bounds()
        doc = documents.style(
            self._base(scope), font, bounds, internal=j is not None, data_sources=self._sources
        )
        status, headers, body = self._json(doc, b"private, no-cache")
        headers.append((b"vary", b"Cookie, Authorization"))
        return status, headers, body

    def index(self) -> tuple[int, list, bytes]:
        doc = {
            "title": "一网统管电子地图 矢量瓦片 one-net map vector tiles",
            "tiles": "/tiles/{layers}/{z}/{x}/{y}.mvt",
            "tilejson": "/tiles/{layers}.json",
            "style": "/tiles/style.json",
            "layers": [
                {"id": s.id, "title": s.title, "title_en": s.title_en, "public": s.public,
                 "minzoom": s.minzoom, "maxzoom": s.maxzoom}
                for s in LAYERS.values()
            ],
        }  # fmt: skip
        return self._json(doc, b"public, max-age=60")

    @staticmethod
    def _json(doc: Any, cache_control: bytes) -> tuple[int, list, bytes]:
        body = json.dumps(doc, ensure_ascii=False).encode()
        etag = etag_of(body)
        return (
            200,
            [(b"content-type", JSON), (b"cache-control", cache_control), (b"etag", f'"{etag}"'.encode())],
            body,
        )

    def glyph(self, fontstack: str, start: int, end: int) -> tuple[int, list, bytes]:
        if start % 256 or end != start + 255 or end > 65535:
            raise HttpError(400, "字形范围无效", f"invalid glyph range {start}-{end}: use 256-aligned ranges")
        data = self.glyphs.get(fontstack, start)
        if data is None:
            raise HttpError(
                404, "字形文件尚未生成：请运行 ./gis up 或 python -m tiles.glyphs",
                "glyphs are not built: run ./gis up or python -m tiles.glyphs",
            )  # fmt: skip
        headers = [
            (b"content-type", b"application/x-protobuf"),
            (b"cache-control", b"public, max-age=86400"),
            (b"access-control-allow-origin", b"*"),
        ]
        return 200, headers, data


def _matches(headers: list[tuple[bytes, bytes]], etag: str) -> bool:
    for name, value in headers:
        if name == b"if-none-match":
            for candidate in value.decode("latin-1").split(","):
                candidate = candidate.strip()
                if candidate == "*" or candidate.removeprefix("W/").strip('"') == etag:
                    return True
    return False
