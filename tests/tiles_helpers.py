"""Shared helpers of the vector-tile tests: HTTP against the app server, tile math, MVT decoding."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import mapbox_vector_tile

PASSWORD = "onenet-demo"
ORIGIN = 20037508.342789244


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)

    def json(self):
        return json.loads(self.body)

    def layers(self, y_down: bool = True) -> dict:
        return (
            mapbox_vector_tile.decode(self.body, default_options={"y_coord_down": y_down})
            if self.body
            else {}
        )


def http(
    base: str,
    path: str,
    token: str | None = None,
    headers: dict | None = None,
    method: str = "GET",
    data: bytes | None = None,
    cookie: str | None = None,
) -> Reply:
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if cookie:
        h["Cookie"] = cookie
    req = urllib.request.Request(base + path, headers=h, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def token(base: str, username: str) -> str:
    body = urllib.parse.urlencode({"username": username, "password": PASSWORD}).encode()
    reply = http(
        base,
        "/api/auth/token",
        method="POST",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 200, reply.body
    return reply.json()["token"]


def lonlat_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def merc_tile(mx: float, my: float, z: int) -> tuple[int, int]:
    size = 2 * ORIGIN / 2**z
    return int((mx + ORIGIN) // size), int((ORIGIN - my) // size)


def tile_path(layers: str, z: int, x: int, y: int) -> str:
    return f"/tiles/{layers}/{z}/{x}/{y}.mvt"
