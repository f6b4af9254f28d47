"""Load test of one-net map (issue 9): a realistic mix on one server, run by bench/load/run.sh.

- 200 map clients (`MapClient`): the public map's style and TileJSON once, then pans — a 3×3 block of
  tiles at a random place and zoom (12–16) inside the city every 1–3 s, as MapLibre requests them.
- 50 reporters (`Reporter`): one report per second each, so 50 reports/s, POST /api/cases with an
  Idempotency-Key (grid workers' phones; 2 % are resent with the same key, as a phone after a timeout).
- 5 dispatchers (`Dispatcher`): list cases, open one, register it (with the version they saw), read the
  indicator panels — every 2–5 s.
- 20 members of the public (`Public`): geocoder searches and "Where am I?" every 1–4 s.

Every simulated person has an address of their own (X-Forwarded-For, trusted from 127.0.0.1 only: run.sh
starts uvicorn with --proxy-headers), so the per-address rate limits apply as they would to real phones.
Request names group URLs by endpoint (tiles by zoom) so that locust's statistics give p95 per endpoint.
Server memory is sampled by run.sh, not here.
"""

from __future__ import annotations

import math
import random
import threading
import uuid

from locust import HttpUser, between, constant_throughput, events, task

CATEGORIES = ["SJ0101", "SJ0501", "SJ0503", "SJ0201", "BJ0101", "BJ0102", "ZL0102", "SJ0301"]
RUN = uuid.uuid4().hex[:8]
_shared: dict = {}
_lock = threading.Lock()


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--worker-user", default="worker", help="account the reporters use")


def _address() -> str:
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _city(user: HttpUser) -> dict:
    """Building points, addresses and the tile template, fetched once per locust process."""
    with _lock:
        if _shared:
            return _shared
        r = user.client.get("/ogcapi/collections/buildings/items?limit=2000", name="setup: buildings")
        features = r.json()["features"]
        points, addresses = [], []
        for f in features:
            ring = f["geometry"]["coordinates"][0][0]
            points.append(
                (
                    sum(p[0] for p in ring[:-1]) / (len(ring) - 1),
                    sum(p[1] for p in ring[:-1]) / (len(ring) - 1),
                )
            )
            if f["properties"].get("address"):
                addresses.append(f["properties"]["address"])
        style = user.client.get("/tiles/style.json", name="setup: style").json()
        sources = [s for s in style["sources"].values() if s.get("type") == "vector" and s.get("tiles")]
        _shared.update(points=points, addresses=addresses, template=sources[0]["tiles"][0])
        return _shared


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


class Person(HttpUser):
    abstract = True

    def on_start(self) -> None:
        self.client.headers["X-Forwarded-For"] = _address()
        self.city = _city(self)


class MapClient(Person):
    fixed_count = 200
    wait_time = between(1, 3)

    def on_start(self) -> None:
        super().on_start()
        self.client.get("/tiles/style.json", name="/tiles/style.json")
        template = self.city["template"]
        ids = template.split("/tiles/")[1].split("/")[0]
        self.client.get(f"/tiles/{ids}.json", name="/tiles/{layers}.json")
        self.template = "/tiles/" + template.split("/tiles/")[1]

    @task
    def pan(self) -> None:
        lon, lat = random.choice(self.city["points"])
        z = random.randint(12, 16)
        cx, cy = _tile(lon, lat, z)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                url = (
                    self.template.replace("{z}", str(z))
                    .replace("{x}", str(cx + dx))
                    .replace("{y}", str(cy + dy))
                )
                self.client.get(url, name=f"/tiles/… z{z}")


class Reporter(Person):
    fixed_count = 50
    wait_time = constant_throughput(1)

    def on_start(self) -> None:
        super().on_start()
        user = self.environment.parsed_options.worker_user if self.environment.parsed_options else "worker"
        r = self.client.post(
            "/api/auth/token", json={"username": user, "password": "onenet-demo"}, name="setup: token"
        )
        self.client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        self.last: tuple[str, dict] | None = None

    @task
    def report(self) -> None:
        if self.last is not None and random.random() < 0.02:
            key, body = self.last  # a phone's resend after a timeout: the same case, not a second one
        else:
            lon, lat = random.choice(self.city["points"])
            body = {
                "category": random.choice(CATEGORIES),
                "description": "load test 压力测试",
                "location": {
                    "lon": lon + random.uniform(-2e-5, 2e-5),
                    "lat": lat + random.uniform(-2e-5, 2e-5),
                },
            }
            key = f"load-{RUN}-{uuid.uuid4().hex}"
        self.last = (key, body)
        with self.client.post(
            "/api/cases",
            json=body,
            headers={"Idempotency-Key": key},
            name="/api/cases",
            catch_response=True,
        ) as r:
            if r.status_code not in (200, 201):
                r.failure(f"{r.status_code}: {r.text[:200]}")


class Dispatcher(Person):
    fixed_count = 5
    wait_time = between(2, 5)

    def on_start(self) -> None:
        super().on_start()
        r = self.client.post(
            "/api/auth/token", json={"username": "dispatcher", "password": "onenet-demo"}, name="setup: token"
        )
        self.client.headers["Authorization"] = f"Bearer {r.json()['token']}"

    @task(3)
    def work_a_case(self) -> None:
        listing = self.client.get("/api/cases?status=reported&limit=20", name="/api/cases").json()
        if not listing.get("results"):
            return
        number = random.choice(listing["results"])["number"]
        case = self.client.get(f"/api/cases/{number}", name="/api/cases/{number}").json()
        with self.client.post(
            f"/api/cases/{number}/transitions",
            json={"transition": "register", "version": case.get("version")},
            name="/api/cases/{number}/transitions",
            catch_response=True,
        ) as r:
            if r.status_code == 409:  # another dispatcher registered it first: the lock doing its job
                r.success()

    @task(1)
    def panels(self) -> None:
        self.client.get("/api/map/indicators/events", name="/api/map/indicators/events")
        self.client.get("/api/cases/overdue?limit=50", name="/api/cases/overdue")


class Public(Person):
    fixed_count = 20
    wait_time = between(1, 4)

    @task(2)
    def search(self) -> None:
        q = random.choice(self.city["addresses"]) if self.city["addresses"] else "学士街33号"
        self.client.get("/api/geocode", params={"q": q[-12:]}, name="/api/geocode")

    @task(1)
    def where_am_i(self) -> None:
        lon, lat = random.choice(self.city["points"])
        self.client.get("/api/public/nearby", params={"lon": lon, "lat": lat}, name="/api/public/nearby")
