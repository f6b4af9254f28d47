#!/usr/bin/env python3
"""Benchmark of the vector tiles on the `city` fixture (issue 3); run by hand, never in CI.

    flock /tmp/onenet-bench.lock .venv/bin/python bench/tiles/run.py [--db URL] [--seconds 3]

Side by side, for z8, z10, z12, z14, z16 and for every layer and the composite of all layers:
- raw:  the very tile SQL of tiles.queries run straight on PostgreSQL (prepared, 4 async connections):
        the ceiling of any server built on it;
- cold: our server (uvicorn, 2 workers) with its tile cache switched off (ONENET_TILE_CACHE_MB=0), so every
        request runs the SQL;
- warm: the same server with its cache on, after one request per tile;
- tipg: TiPg (PyPI `tipg`, in its own venv var/bench-venv) on the same tables and their geom_3857 column,
        with its default properties (every column); it has no multi-layer tiles, so no composite.
HTTP load comes from wrk (apt `wrk`) with bench/tiles/wrk.lua.  The tiles requested are those under a
deterministic sample of buildings (the populated city), so most are not empty.  Also the largest composite
tile per zoom over every tile of the city's extent (z8-z14) and over the sample (z16).
Writes var/bench/tiles-<time>.json and prints Markdown tables for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
ZOOMS = [8, 10, 12, 14, 16]
COMPOSITE = "composite"
OUR_PORT, TIPG_PORT = 8791, 8792
WRK_LUA = Path(__file__).with_name("wrk.lua")


def setup_django(db: str) -> None:
    os.environ["DATABASE_URL"] = db
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gisapp.settings")
    import django

    django.setup()


def machine() -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        "?",
    )
    mem = next(
        (int(line.split()[1]) // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0
    )
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT version(), postgis_full_version()")
        pg, postgis = cur.fetchone()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": mem,
        "python": platform.python_version(),
        "postgresql": pg.split(",")[0],
        "postgis": postgis.split('"')[1] if '"' in postgis else postgis,
    }


def sample_tiles(n: int, seed: int = 7) -> dict[int, list[tuple[int, int]]]:
    """Per zoom, the distinct tiles holding a deterministic sample of buildings."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_X(point_3857), ST_Y(point_3857) FROM (SELECT ST_Transform(point, 3857) point_3857 "
            "FROM layers_building ORDER BY id) s"
        )
        points = cur.fetchall()
    rng = random.Random(seed)
    chosen = rng.sample(points, min(n, len(points)))
    origin = 20037508.342789244
    out = {}
    for z in ZOOMS:
        size = 2 * origin / 2**z
        tiles = sorted({(int((x + origin) // size), int((origin - y) // size)) for x, y in chosen})
        rng.shuffle(tiles)
        out[z] = tiles
    return out


def city_tiles(z: int) -> list[tuple[int, int]]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(geom_3857) e FROM layers_adminunit) s"
        )
        xmin, ymin, xmax, ymax = cur.fetchone()
    origin = 20037508.342789244
    size = 2 * origin / 2**z
    return [
        (x, y)
        for x in range(int((xmin + origin) // size), int((xmax + origin) // size) + 1)
        for y in range(int((origin - ymax) // size), int((origin - ymin) // size) + 1)
    ]


def admin_token() -> str:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from gisapp.accounts.models import ApiToken

    user = (
        User.objects.filter(profile__role="admin").first() or User.objects.filter(is_superuser=True).first()
    )
    return ApiToken.issue(user, timezone.timedelta(hours=6))


# ----------------------------------------------------------------------------------------- raw SQL


async def raw_cell(db: str, layers: list[str], z: int, tiles, seconds: float, conc: int = 4) -> dict:
    import psycopg

    from tiles.plan import plans
    from tiles.queries import tile_query

    statements = []
    for layer in layers:
        band = plans()[layer].band_index(z)
        if band is not None:
            statements.append(tile_query(layer, band, "all").sql)
    if not statements:
        return {"requests": 0, "note": "no zoom band: the layer is empty at this zoom"}
    conns = [
        await psycopg.AsyncConnection.connect(
            db,
            autocommit=True,
            prepare_threshold=0,
            options="-c jit=off -c max_parallel_workers_per_gather=0",
        )
        for _ in range(conc)
    ]
    latencies: list[float] = []
    sizes: list[int] = []
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker(conn, k):
        while time.perf_counter() < stop:
            x, y = tiles[(next(counter) * 7 + k) % len(tiles)]
            t0 = time.perf_counter()
            size = 0
            for sql in statements:
                cur = await conn.execute(
                    sql, {"z": z, "x": x, "y": y, "prefix": None, "dept": None}, prepare=True
                )
                size += len((await cur.fetchone())[0] or b"")
            latencies.append(time.perf_counter() - t0)
            sizes.append(size)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c, k) for k, c in enumerate(conns)))
    elapsed = time.perf_counter() - t0
    for c in conns:
        await c.close()
    return summary(latencies, elapsed, sizes)


def summary(latencies: list[float], elapsed: float, sizes: list[int]) -> dict:
    if not latencies:
        return {"requests": 0}
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(q[49] * 1000, 2),
        "p95_ms": round(q[94] * 1000, 2),
        "max_bytes": max(sizes) if sizes else 0,
    }


async def largest(db: str, layers: list[str], z: int, tiles) -> tuple[int, tuple]:
    import psycopg

    from tiles.plan import plans
    from tiles.queries import tile_query

    best: tuple[int, tuple] = (-1, ())
    async with await psycopg.AsyncConnection.connect(
        db, autocommit=True, prepare_threshold=0, options="-c jit=off"
    ) as conn:
        for x, y in tiles:
            size = 0
            for layer in layers:
                band = plans()[layer].band_index(z)
                if band is None:
                    continue
                cur = await conn.execute(
                    tile_query(layer, band, "all").sql,
                    {"z": z, "x": x, "y": y, "prefix": None, "dept": None},
                    prepare=True,
                )
                size += len((await cur.fetchone())[0] or b"")
            best = max(best, (size, (z, x, y)))
    return best


# --------------------------------------------------------------------------------------------- HTTP


class Server:
    def __init__(self, argv: list[str], env: dict, port: int, probe: str) -> None:
        self.argv, self.env, self.port, self.probe = argv, env, port, probe
        self.proc: subprocess.Popen | None = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            self.argv,
            env={**os.environ, **self.env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.probe}", timeout=5).read()
                return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"server did not start: {self.argv}")

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the uvicorn supervisor and its workers, by group id
            self.proc.wait(timeout=20)


def wrk(paths: list[str], port: int, seconds: float, threads: int, conns: int, token: str | None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(paths) + "\n")
    env = {**os.environ, "WRK_PATHS": f.name, "WRK_TOKEN": token or ""}
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{conns}",
            f"-d{max(1, round(seconds))}s",
            "-s",
            str(WRK_LUA),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(f.name)
    line = next(line for line in out.stdout.splitlines() if line.startswith("{"))
    return json.loads(line)


def prime(paths: list[str], port: int, token: str | None) -> None:
    for p in paths:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{p}", headers={"Authorization": f"Bearer {token}"}
        )
        urllib.request.urlopen(req, timeout=60).read()


def our_paths(layer: str, z: int, tiles, all_layers: list[str]) -> list[str]:
    name = ",".join(all_layers) if layer == COMPOSITE else layer
    return [f"/tiles/{name}/{z}/{x}/{y}.mvt" for x, y in tiles]


def tipg_paths(table: str, z: int, tiles) -> list[str]:
    return [
        f"/collections/public.{table}/tiles/WebMercatorQuad/{z}/{x}/{y}?geom-column=geom_3857"
        for x, y in tiles
    ]


# --------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgres://postgres@127.0.0.1:54329/onenet_city")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--sample", type=int, default=400, help="buildings whose tiles are requested")
    parser.add_argument("--only", default="", help="comma list of phases: raw,cold,warm,tipg,largest")
    parser.add_argument("--report", default="", help="only print the tables of this results file")
    args = parser.parse_args()
    if args.report:
        setup_django(args.db)
        from layers.registry import LAYERS

        print(markdown(json.loads(Path(args.report).read_text()), list(LAYERS)))
        return
    phases = set(args.only.split(",")) if args.only else {"raw", "cold", "warm", "tipg", "largest"}
    setup_django(args.db)
    from fixtures.models import LoadedCity
    from layers.registry import LAYERS
    from tiles.plan import plans
    from tiles.schema import sync

    loaded = LoadedCity.objects.order_by("-loaded_at").first()
    if loaded is None or loaded.size not in ("city", "real"):
        sys.exit("load the city (or the real city) first: ./gis load-city --size city|real (into --db)")
    sync()
    layers = list(LAYERS)
    tiles = sample_tiles(args.sample)
    token = admin_token()
    results: dict = {
        "machine": machine(),
        "args": vars(args),
        "started": dt.datetime.now().isoformat(),
        "loadavg_before": os.getloadavg(),
        "tiles_per_zoom": {z: len(t) for z, t in tiles.items()},
        "cells": {},
    }
    cells = results["cells"]

    out = ROOT / "var" / "bench" / f"tiles-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    def put(phase, layer, z, value):
        cells.setdefault(f"{layer}|z{z}", {})[phase] = value
        print(phase, layer, z, value, flush=True)
        out.write_text(json.dumps(results, indent=1))  # kept even if a later phase fails

    if "raw" in phases:
        for z in ZOOMS:
            for layer in [*layers, COMPOSITE]:
                chosen = layers if layer == COMPOSITE else [layer]
                put("raw", layer, z, asyncio.run(raw_cell(args.db, chosen, z, tiles[z], args.seconds)))
    uvicorn = [
        str(ROOT / ".venv/bin/uvicorn"),
        "gisapp.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(OUR_PORT),
        "--workers",
        "2",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    base_env = {"DATABASE_URL": args.db, "ONENET_DEMO": "1"}
    for phase in ("cold", "warm"):
        if phase not in phases:
            continue
        env = {**base_env, "ONENET_TILE_CACHE_MB": "0" if phase == "cold" else "1024"}
        with Server(uvicorn, env, OUR_PORT, "/tiles/"):
            for z in ZOOMS:
                for layer in [*layers, COMPOSITE]:
                    paths = our_paths(layer, z, tiles[z], layers)
                    if phase == "warm":
                        prime(paths, OUR_PORT, token)
                        prime(paths, OUR_PORT, token)  # both workers (connections spread over them)
                        put(phase, layer, z, wrk(paths, OUR_PORT, args.seconds, 2, 64, token))
                    else:
                        put(phase, layer, z, wrk(paths, OUR_PORT, args.seconds, 1, 8, token))
    if "tipg" in phases:
        venv = ROOT / "var" / "bench-venv"
        if not (venv / "bin" / "uvicorn").exists():
            sys.exit(
                "TiPg is missing: python3 -m venv var/bench-venv && "
                "var/bench-venv/bin/pip install tipg uvicorn uvloop httptools"
            )
        tipg_db = args.db.replace("postgres://", "postgresql://", 1)
        env = {"DATABASE_URL": tipg_db, "TIPG_DB_SCHEMAS": '["public"]'}
        argv = [
            str(venv / "bin/uvicorn"),
            "tipg.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(TIPG_PORT),
            "--workers",
            "2",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        with Server(argv, env, TIPG_PORT, "/collections"):
            for z in ZOOMS:
                for layer in layers:
                    table = plans()[layer].source_table
                    paths = tipg_paths(table, z, tiles[z])
                    put("tipg", layer, z, wrk(paths, TIPG_PORT, args.seconds, 1, 8, None))
    if "largest" in phases:
        for z in ZOOMS:
            over = city_tiles(z) if z <= 14 else [(x, y) for x, y in tiles[z]]
            size, where = asyncio.run(largest(args.db, layers, z, over))
            results.setdefault("largest", {})[z] = {"bytes": size, "tile": where, "tiles_scanned": len(over)}
            print("largest", z, size, where, len(over), flush=True)
    results["loadavg_after"] = os.getloadavg()
    out.write_text(json.dumps(results, indent=1))
    print(f"\nresults: {out}\n")
    print(markdown(results, layers))


def markdown(results: dict, layers: list[str]) -> str:
    from tiles.plan import plans

    lines = [
        "| layer | z | raw SQL rps (p50/p95 ms) | cold rps (p50/p95 ms) | warm rps (p50/p95 ms) "
        "| TiPg rps (p50/p95 ms) | cold/TiPg | cold/raw |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def fmt(cell):
        if not cell or not cell.get("requests"):
            return "–"
        return f"{cell['rps']:.0f} ({cell['p50_ms']:.1f}/{cell['p95_ms']:.1f})"

    for layer in [*layers, COMPOSITE]:
        for z in ZOOMS:
            if layer != COMPOSITE and plans()[layer].band_index(z) is None:
                continue  # the layer draws nothing at this zoom (every server answers 204 at once)
            c = results["cells"].get(f"{layer}|z{z}", {})
            cold, tipg, raw = c.get("cold"), c.get("tipg"), c.get("raw")
            ratio_t = f"{cold['rps'] / tipg['rps']:.1f}×" if cold and tipg and tipg.get("rps") else "–"
            ratio_r = f"{cold['rps'] / raw['rps'] * 100:.0f} %" if cold and raw and raw.get("rps") else "–"
            lines.append(
                f"| {layer} | {z} | {fmt(raw)} | {fmt(cold)} | {fmt(c.get('warm'))} | {fmt(tipg)} "
                f"| {ratio_t} | {ratio_r} |"
            )
    if "largest" in results:
        lines += ["", "| z | largest composite tile | tile | tiles scanned |", "|---|---|---|---|"]
        for z, v in results["largest"].items():
            lines.append(f"| {z} | {v['bytes'] / 1024:.1f} KB | {v['tile']} | {v['tiles_scanned']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
