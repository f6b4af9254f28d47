"""bench/intake: 50 reports/s for a minute over HTTP while a dispatcher's screen listens (issue 5).

Run by hand against a running server on the demo city (`./gis up` in another shell):

    .venv/bin/python bench/intake/run.py --base http://127.0.0.1:8000 --rate 50 --seconds 60

It reports p50/p95 from the start of each POST to the moment its `insert` event reaches the subscribed
dispatcher (Server-Sent Events), plus errors, lost reports (acknowledged but never announced) and
duplicates (two cases for one Idempotency-Key, or two announcements of one insert).  5 % of the reports
are sent twice with the same key, as a phone that retries after a timeout does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid

import httpx

CATEGORIES = ["SJ0101", "SJ0501", "SJ0503", "SJ0201", "BJ0101", "BJ0102", "ZL0102", "SJ0301"]


async def token(client: httpx.AsyncClient, username: str) -> str:
    r = await client.post("/api/auth/token", json={"username": username, "password": "onenet-demo"})
    r.raise_for_status()
    return r.json()["token"]


async def points(client: httpx.AsyncClient, n: int) -> list[tuple[float, float]]:
    r = await client.get("/ogcapi/collections/buildings/items", params={"limit": n})
    r.raise_for_status()
    out = []
    for f in r.json()["features"]:
        ring = f["geometry"]["coordinates"][0][0]
        out.append(
            (sum(p[0] for p in ring[:-1]) / (len(ring) - 1), sum(p[1] for p in ring[:-1]) / (len(ring) - 1))
        )
    return out


async def subscribe(base: str, auth: str, seen: dict[str, list[float]], ready: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=None) as client:
        async with client.stream(
            "GET", "/api/cases/stream", headers={"Authorization": f"Bearer {auth}"}
        ) as r:
            r.raise_for_status()
            event = None
            async for line in r.aiter_lines():
                if not ready.is_set():
                    ready.set()
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "case":
                    payload = json.loads(line[5:])
                    if payload.get("op") == "insert":
                        seen.setdefault(payload["number"], []).append(time.perf_counter())


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--retry-share", type=float, default=0.05)
    args = ap.parse_args()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=args.base, timeout=30, limits=limits) as client:
        dispatcher, worker = await token(client, "dispatcher"), await token(client, "worker")
        where = await points(client, 500)
        seen: dict[str, list[float]] = {}
        ready = asyncio.Event()
        listener = asyncio.create_task(subscribe(args.base, dispatcher, seen, ready))
        await asyncio.wait_for(ready.wait(), 10)
        sent: dict[str, float] = {}  # number → POST start
        post_ms: list[float] = []  # POST round trips, to tell the server's time from the stream's
        by_key: dict[str, set[str]] = {}
        errors: list[str] = []
        rng = random.Random(1)

        async def one(key: str, body: dict, started: float) -> None:
            try:
                r = await client.post(
                    "/api/cases",
                    json=body,
                    headers={"Authorization": f"Bearer {worker}", "Idempotency-Key": key},
                )
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
                return
            if r.status_code not in (200, 201):
                errors.append(str(r.status_code))
                return
            post_ms.append((time.perf_counter() - started) * 1000)
            number = r.json()["number"]
            by_key.setdefault(key, set()).add(number)
            if r.status_code == 201:
                sent.setdefault(number, started)

        tasks = []
        total = int(args.rate * args.seconds)
        t0 = time.perf_counter()
        for i in range(total):
            target = t0 + i / args.rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lon, lat = rng.choice(where)
            body = {
                "category": rng.choice(CATEGORIES),
                "description": f"压测 {i}",
                "location": {"lon": lon + rng.uniform(-2e-4, 2e-4), "lat": lat, "crs": "EPSG:4490"},
            }
            key = str(uuid.uuid4())
            tasks.append(asyncio.create_task(one(key, body, time.perf_counter())))
            if rng.random() < args.retry_share:
                tasks.append(asyncio.create_task(one(key, body, time.perf_counter())))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        await asyncio.sleep(5)  # let the last announcements arrive
        listener.cancel()
    latencies = sorted((seen[n][0] - s) * 1000 for n, s in sent.items() if n in seen)
    lost = [n for n in sent if n not in seen]
    dup_events = [n for n, times in seen.items() if len(times) > 1 and n in sent]
    dup_cases = [k for k, numbers in by_key.items() if len(numbers) > 1]
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0] * 99
    pq = statistics.quantiles(sorted(post_ms), n=100) if len(post_ms) > 1 else [0] * 99
    result = {
        "post_p50_ms": round(pq[49], 1),
        "post_p95_ms": round(pq[94], 1),
        "reports": total,
        "sent_per_s": round(total / elapsed, 1),
        "acknowledged": len(sent),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "lost": len(lost),
        "duplicated_cases": len(dup_cases),
        "duplicated_events": len(dup_events),
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "max_ms": round(latencies[-1], 1) if latencies else None,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
