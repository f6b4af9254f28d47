"""The access matrix (tests/access_table.py) against the real demo city.

Every role — public, grid worker, community / street / district dispatcher, department, planner, leader,
admin — once with a user whose jurisdiction holds the target (grid G, case A …) and once with a user whose
jurisdiction does not, against every route of the table: Django views through the test client (in the
test's transaction, so the targets made here vanish afterwards), tiles and the live feed over HTTP through
`app_server` (which sees only committed rows: the matrix users are committed once per session and removed
at its end).  Coverage tests fail for any resolver route, tile-server route or registry layer without a
row, so a new endpoint without an entry fails here.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import httpx
import pytest
from access_table import (
    ASGI_ROUTES,
    ROLES,
    ROWS,
    TILE_LAYERS,
    Probe,
    covers,
)
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import URLResolver, get_resolver
from tiles_helpers import http, merc_tile, tile_path

from cases.models import Case
from cases.open311 import PUBLIC_CHANNELS
from gisapp.accounts.models import Department, Profile, hash_token
from layers.masking import mask_phone
from layers.models import Building, Grid, PartyOrganisation, ServiceStation
from layers.registry import LAYERS

G2_STREET = "990102002"  # the outside grid lies in another street than G
OTHER_DISTRICT = "990103"  # a district of the same city with nothing in it: outside every demo row
CONTACT = "10087654321"  # case A's reporter contact (demo phones start with 100)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
    b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


# ------------------------------------------------------------------------------------------ the users
@dataclass(frozen=True)
class Who:
    """One user of the matrix and the jurisdiction the oracle reads straight from its profile."""

    role: str
    side: str  # "in" or "out"
    username: str | None  # None: anonymous
    prefix: str | None = None  # code prefix; "" = everything
    department_id: int | None = None

    @property
    def everything(self) -> bool:
        return self.prefix == ""

    @cached_property
    def user(self) -> User | None:
        return User.objects.get(username=self.username) if self.username else None

    def sees_grid(self, code: str) -> bool:
        return self.everything or bool(self.prefix and code and code.startswith(self.prefix))

    def sees_case(self, case: Case) -> bool:
        """The oracle: written from the profile, not from gisapp.accounts.jurisdiction."""
        if self.username is None:
            return False
        if self.everything or self.sees_grid(case.grid_code):
            return True
        if self.department_id is not None and case.department_id == self.department_id:
            return True
        if case.reporter_id is not None and case.reporter_id == self.user.pk:
            return True
        district_dispatcher = self.role == "district_dispatcher" and self.prefix and len(self.prefix) <= 6
        return bool(district_dispatcher and not case.grid_code)


def _grid_codes() -> tuple[str, str]:
    g = User.objects.get(username="worker").profile.jurisdiction_code
    g2 = (
        Grid.objects.current()
        .filter(net__code="comprehensive", code__startswith=G2_STREET)
        .order_by("code")
        .values_list("code", flat=True)
        .first()
    )
    return g, g2


def _matrix_users(g: str, g2: str) -> dict[tuple[str, str], Who]:
    d1, d2 = Department.objects.order_by("id").values_list("id", flat=True)[:2]
    return {
        ("public", "in"): Who("public", "in", None),
        ("public", "out"): Who("public", "out", None),
        ("grid_worker", "in"): Who("grid_worker", "in", f"gw{g}", g),
        ("grid_worker", "out"): Who("grid_worker", "out", f"gw{g2}", g2),
        ("community_dispatcher", "in"): Who("community_dispatcher", "in", "acl-community-in", g[:12]),
        ("community_dispatcher", "out"): Who("community_dispatcher", "out", "acl-community-out", g2[:12]),
        ("street_dispatcher", "in"): Who("street_dispatcher", "in", "acl-street-in", g[:9]),
        ("street_dispatcher", "out"): Who("street_dispatcher", "out", "acl-street-out", g2[:9]),
        ("district_dispatcher", "in"): Who("district_dispatcher", "in", "dispatcher", g[:6]),
        ("district_dispatcher", "out"): Who("district_dispatcher", "out", "acl-district-out", OTHER_DISTRICT),
        ("department", "in"): Who("department", "in", "department", None, d1),
        ("department", "out"): Who("department", "out", "acl-department-out", None, d2),
        ("planner", "in"): Who("planner", "in", "planner", g[:6]),
        ("planner", "out"): Who("planner", "out", "acl-planner-out", OTHER_DISTRICT),
        ("leader", "in"): Who("leader", "in", "leader", g[:6]),
        ("leader", "out"): Who("leader", "out", "acl-leader-out", OTHER_DISTRICT),
        ("admin", "in"): Who("admin", "in", "admin", ""),
    }


PROFILE_ROLE = {
    "community_dispatcher": "dispatcher",
    "street_dispatcher": "dispatcher",
    "district_dispatcher": "dispatcher",
    "department": "department",
    "planner": "planner",
    "leader": "leader",
}


@pytest.fixture(scope="session")
def matrix(django_db_setup, django_db_blocker):
    """The matrix users, committed (app_server must see them), with the demo password; removed at the end."""
    with django_db_blocker.unblock():
        g, g2 = _grid_codes()
        users = _matrix_users(g, g2)
        demo_hash = User.objects.get(username="dispatcher").password  # the same password, no re-hashing
        made = []
        for who in users.values():
            if not (who.username or "").startswith("acl-"):
                continue
            user, _ = User.objects.update_or_create(
                username=who.username, defaults={"password": demo_hash, "is_active": True}
            )
            Profile.objects.update_or_create(
                user=user,
                defaults={
                    "role": PROFILE_ROLE[who.role],
                    "jurisdiction_code": who.prefix or "",
                    "department_id": who.department_id,
                    "is_demo": True,
                },
            )
            made.append(user.pk)
    yield {"grid": g, "grid2": g2, "users": users}
    with django_db_blocker.unblock():
        User.objects.filter(pk__in=made).delete()


# ------------------------------------------------------------------------------------------ the targets
class World:
    """The targets of the probes, made on first use inside the test's transaction."""

    def __init__(self, grid: str, who: Who) -> None:
        self.grid, self.who = grid, who
        self._cache: dict[str, object] = {}

    def __getitem__(self, key: str):
        if key not in self._cache:
            self._cache[key] = getattr(self, f"_{key}")()
        return self._cache[key]

    def _a(self) -> Case:
        """Case A: in G, open, dispatched to department 1, with a reporter contact."""
        a = (
            Case.objects.filter(grid_code=self.grid, geom__isnull=False)
            .exclude(channel__in=PUBLIC_CHANNELS)  # not one the public may look up (Open311)
            .order_by("id")
            .first()
        )
        Case.objects.filter(pk=a.pk).update(
            status="dispatched",
            assignee_level="department",
            assignee_code="",
            department_id=Department.objects.order_by("id").first().pk,
            reporter_contact=CONTACT,
            needs_placement=False,
            duplicate_of=None,
        )
        return Case.objects.get(pk=a.pk)

    def _grid(self) -> str:
        return self.grid

    def _case(self) -> str:
        return self["a"].number

    def _case_pk(self) -> int:
        return self["a"].pk

    def _grid_pk(self) -> int:
        return Grid.objects.current().get(code=self.grid).pk

    def _community(self) -> str:
        return self.grid[:12]

    def _street(self) -> str:
        return self.grid[:9]

    def _point(self):
        return self["a"].geom

    def _lon(self) -> float:
        return self["point"].x

    def _lat(self) -> float:
        return self["point"].y

    def _building(self) -> int:
        return Building.objects.filter(grid_code=self.grid).order_by("id").values_list("id", flat=True)[0]

    def _address(self) -> str:
        return urllib.parse.quote(Building.objects.get(pk=self["building"]).address)

    def _public_case(self) -> str:
        c = Case.objects.filter(channel="public").order_by("id").first()
        Case.objects.filter(pk=c.pk).update(description="门口垃圾没人收，我是王某某，电话 10011112222")
        return c.number

    def _party(self) -> int:
        a = self["a"]
        return PartyOrganisation.objects.create(
            name="矩阵测试党支部",
            kind="branch",
            community_id=Grid.objects.get(pk=self["grid_pk"]).community_id,
            grid_code=self.grid,
            geom=a.geom,
        ).pk

    def _station(self) -> int:
        """A station closed to the public, in G."""
        a = self["a"]
        return ServiceStation.objects.create(
            name="矩阵测试内部站点", kind="police", is_public=False, grid_code=self.grid, geom=a.geom
        ).pk

    def _draft(self) -> int:
        from boundaries.drafts import create_draft

        return create_draft(User.objects.get(username="planner"), "comprehensive", self["community"]).pk

    def _proposal(self) -> str:
        """A finished run of the grid assistant over G's community."""
        from boundaries.models import Proposal

        job = Proposal.objects.create(
            area_code=self["community"],
            target=300,
            village_target=100,
            status="done",
            total=1,
            done=1,
            created_by=User.objects.get(username="planner"),
        )
        return str(job.pk)

    def _job(self) -> str:
        """A finished batch job of the inside user of the role probed (the dispatcher's for the public)."""
        from geocoding.models import GeocodeJob

        owner = self.who.user if self.who.username and self.who.side == "in" else None
        if owner is None:
            owner = User.objects.get(username="dispatcher")
        job = GeocodeJob.objects.create(
            created_by=owner, status="done", columns=["address"], rows=[["x"]], total=1, done=1
        )
        return str(job.pk)

    def _campaign(self) -> int:
        from cases.models import Campaign, CampaignProgress

        c = Campaign.objects.create(
            name="矩阵测试",
            area_code=self["community"],
            checklist=["一", "二"],
            created_by=User.objects.get(username="dispatcher"),
        )
        codes = Grid.objects.current().filter(net__code="comprehensive", code__startswith=self["community"])
        CampaignProgress.objects.bulk_create(
            CampaignProgress(campaign=c, grid_code=code) for code in codes.values_list("code", flat=True)
        )
        return c.pk

    def _attachment(self) -> int:
        from django.core.files.base import ContentFile

        from cases.models import Attachment

        att = Attachment(case=self["a"], content_type="image/png", size=len(PNG))
        att.file.save("matrix.png", ContentFile(PNG), save=True)
        self._cache["_files"] = [att.file.path]
        return att.pk

    def cleanup(self) -> None:
        import os

        for path in self._cache.get("_files", []):
            if os.path.exists(path):
                os.remove(path)

    def fill(self, template: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: str(self[m.group(1)]), template)


# ------------------------------------------------------------------------------------------ requests
def _body(probe: Probe, who: Who, world: World) -> dict:
    """Keyword arguments of the test client for the probe's body."""
    if probe.method not in ("POST", "PUT", "PATCH"):
        return {}
    b = probe.body
    if isinstance(b, dict):
        return {"data": json.dumps(b), "content_type": "application/json"}
    forms = {
        "form": lambda: {"data": {}},
        "own-credentials": lambda: {
            "data": {"username": who.username or "nobody", "password": "onenet-demo" if who.username else "x"}
        },
        "geocode-csv": lambda: {
            "data": "address\n" + urllib.parse.unquote(world["address"]) + "\n",
            "content_type": "text/csv",
        },
        "draft": lambda: _json({"net": "comprehensive", "area": world["community"]}),
        "proposal": lambda: _json({"area": world["community"], "target": 300}),
        "case": lambda: _json(
            {
                "category": _leaf(),
                "description": "矩阵测试",
                "location": {"lon": world["lon"], "lat": world["lat"]},
            }
        ),
        "comment": lambda: _json({"transition": "comment", "comment": "矩阵测试"}),
        "photo": lambda: {"data": {"file": _png_upload()}},
        "campaign": lambda: _json(
            {"name": "矩阵测试发起", "area_code": world["community"], "checklist": ["一"]}
        ),
        "tick": lambda: _json({"grid_code": world.grid, "done": [0]}),
        "public-report": lambda: _json(
            {"category": _leaf(), "description": "矩阵测试", "lon": world["lon"], "lat": world["lat"]}
        ),
    }
    return forms[b]()


def _json(data: dict) -> dict:
    return {"data": json.dumps(data), "content_type": "application/json"}


def _leaf() -> str:
    from cases.models import Category

    return Category.objects.filter(parent__isnull=False).order_by("code").values_list("code", flat=True)[0]


def _png_upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("p.png", PNG, content_type="image/png")


def _uploads() -> set:
    """Files under MEDIA_ROOT: photos posted here stay on disk when the test's rows are rolled back."""
    from django.conf import settings

    root = Path(settings.MEDIA_ROOT)
    return set(root.rglob("*")) if root.exists() else set()


def _forget_uploads(before: set) -> None:
    """Remove the photos this test posted (only files holding its own PNG: other tests share the folder)."""
    for path in _uploads() - before:
        if path.is_file() and path.read_bytes() == PNG:
            path.unlink()


def _client(who: Who) -> Client:
    c = Client()
    if who.username:
        c.force_login(who.user)
    return c


def _call(client: Client, method: str, path: str, **kw):
    response = getattr(client, method.lower())(path, **kw)
    if response.streaming:  # read to the end, so the client's request_finished bookkeeping runs
        response.body = b"".join(response.streaming_content)
    return response


def _call_http(base: str, token: str | None, method: str, path: str) -> int:
    """The status of a request to the app server; a stream is closed once its head has arrived."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.stream(method, base + path, headers=headers, timeout=10) as r:
        return r.status_code


def _allowed(outcome, side: str) -> set[int]:
    if isinstance(outcome, tuple):
        outcome = outcome[0] if side == "in" else outcome[1]
    return set(outcome) if isinstance(outcome, frozenset) else {outcome}


# ------------------------------------------------------------------------------------------ data checks
def _case_numbers(reply) -> list[str]:
    data = reply.json()
    if "results" in data:
        return [r["number"] for r in data["results"]]
    return [f["properties"]["number"] for f in data["features"]]


def _check_cases(reply, who: Who, world: World, with_a: bool) -> None:
    numbers = _case_numbers(reply)
    cases = list(Case.objects.filter(number__in=numbers))
    assert len(cases) == len(set(numbers))
    outside = [c.number for c in cases if not who.sees_case(c)]
    assert outside == [], f"{who.username} was shown cases outside its jurisdiction: {outside[:5]}"
    if with_a:
        a = world["a"]
        assert (a.number in numbers) == who.sees_case(a), f"case A listed={a.number in numbers}"


def check_case_list(reply, who, world):
    _check_cases(reply, who, world, with_a=False)


def check_case_list_a(reply, who, world):
    _check_cases(reply, who, world, with_a=True)


def check_geojson_cases(reply, who, world):
    _check_cases(reply, who, world, with_a=True)


def _ogc_case_numbers(reply) -> list[str]:
    return [f["properties"]["number"] for f in reply.json()["features"]]


def check_ogc_cases(reply, who, world):
    numbers = _ogc_case_numbers(reply)
    outside = [c.number for c in Case.objects.filter(number__in=numbers) if not who.sees_case(c)]
    assert outside == []


def check_ogc_cases_a(reply, who, world):
    check_ogc_cases(reply, who, world)
    assert (world["case"] in _ogc_case_numbers(reply)) == who.sees_case(world["a"])


def check_ogc_in_scope(reply, who, world):
    codes = [f["properties"]["grid_code"] for f in reply.json()["features"]]
    assert all(who.sees_grid(c) for c in codes), [c for c in codes if not who.sees_grid(c)][:5]


def check_ogc_stations(reply, who, world):
    features = reply.json()["features"]
    private = [f for f in features if not f["properties"]["is_public"]]
    assert all(who.sees_grid(f["properties"]["grid_code"]) for f in private)
    station = world["station"]
    assert (station in [f["id"] for f in features]) == who.sees_grid(world.grid)


def check_ogc_collections(reply, who, world):
    ids = {c["id"] for c in reply.json()["collections"]}
    internal = {s.id for s in LAYERS.values() if not s.public}
    assert (internal <= ids) if who.username else not (internal & ids)


def check_drafts(reply, who, world):
    ids = [d["id"] for d in reply.json()["drafts"]]
    planner = who.role in ("planner", "admin") and who.side == "in"
    assert (world["draft"] in ids) == planner
    if who.role not in ("planner", "admin"):
        assert ids == []


def check_stats(reply, who, world):
    units = {r["unit"] for r in reply.json()["rows"]}
    foreign = {u for u in units if not who.sees_grid(u)}
    if foreign:  # only grids of cases the user may see some other way (its department's, its own reports)
        seen = {c.grid_code for c in Case.objects.filter(grid_code__in=foreign) if who.sees_case(c)}
        assert foreign <= seen, sorted(foreign - seen)[:5]


def check_case_masked(reply, who, world):
    body = reply.json()
    assert body["reporter_contact"] == mask_phone(CONTACT) and CONTACT not in reply.content.decode()


def check_case_clear(reply, who, world):
    assert reply.json()["reporter_contact"] == CONTACT


def check_campaigns(reply, who, world):
    ids = [c["id"] for c in reply.json()["results"]]
    assert (world["campaign"] in ids) == (
        who.side == "in" and who.role != "department" and bool(who.username)
    )


def check_campaign_grids(reply, who, world):
    codes = reply.json()["by_grid"]
    assert codes and all(who.sees_grid(c) for c in codes), sorted(codes)[:5]


def check_campaign_map(reply, who, world):
    codes = [f["properties"]["code"] for f in reply.json()["features"]]
    assert codes and all(who.sees_grid(c) for c in codes)


def check_open311_public(reply, who, world):
    rows = reply.json()
    assert rows and all(
        r["description"] == "" and r["status_notes"] in ("",) or "已合并" in r["status_notes"] for r in rows
    )
    assert "10011112222" not in reply.content.decode()


def check_nearby(reply, who, world):
    from layers.models import GridWorker

    body = reply.json()
    published = set(
        GridWorker.objects.filter(grid_code=body["grid"]["code"], publish_contact=True).values_list(
            "name", "phone"
        )
    )
    assert {(w["name"], w["phone"]) for w in body["workers"]} == published


def check_admin_list_masked(reply, who, world):
    html = reply.content.decode()
    assert not re.search(r"(?<!\d)\d{17}[\dX](?!\d)", html), "a full ID number in the admin list"
    assert not re.search(r"(?<!\d)100\d{8}(?!\d)", html), "a full phone number in the admin list"


CHECKS = {name[6:]: f for name, f in globals().items() if name.startswith("check_")}
# Targets a check looks for in an answer: made before the request, not after it.
CHECK_TARGETS = {
    "drafts": ("draft",),
    "campaigns": ("campaign",),
    "ogc_stations": ("station",),
    "open311_public": ("public_case",),
}


# ------------------------------------------------------------------------------------------ the matrix
def _cases():
    for r in ROWS:
        for i, probe in enumerate(r.probes):
            for role in ROLES:
                yield pytest.param(probe, role, id=f"{probe.method} {r.route or '/'} #{i} · {role}")


@pytest.mark.django_db
@pytest.mark.parametrize("probe, role", list(_cases()))
def test_access(probe: Probe, role: str, matrix, settings, request):
    settings.ONENET_RATE_LIMITS = {"public_report": "100000/60", "public_status": "100000/60"}
    outcome = probe.expect[role]
    for side in ("in", "out"):
        who = matrix["users"].get((role, side))
        if who is None:  # admin has no outside
            continue
        if probe.http:
            base, tokens = request.getfixturevalue("app_server"), request.getfixturevalue("tokens")
            status = _call_http(base, tokens.get((role, side)), probe.method, probe.path)
            assert status in _allowed(outcome, side), (who.username, side, status)
            continue
        world = World(matrix["grid"], who)
        uploads_before = _uploads()
        try:
            for target in ("a", *CHECK_TARGETS.get(probe.check, ())):  # what the check looks for exists
                world[target]
            path = world.fill(probe.path)
            reply = _call(_client(who), probe.method, path, **_body(probe, who, world))
            allowed = _allowed(outcome, side)
            assert reply.status_code in allowed, (
                f"{who.username or 'anonymous'} ({side}) {probe.method} {path} → {reply.status_code}, "
                f"expected {sorted(allowed)}: {reply.content[:300]!r}"
            )
            if probe.check and reply.status_code == 200:
                CHECKS[probe.check](reply, who, world)
        finally:
            world.cleanup()
            _forget_uploads(uploads_before)


# ------------------------------------------------------------------------------------------ coverage
def _routes(patterns=None, prefix: str = ""):
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern)


def test_every_route_has_a_row():
    entries = [r.route for r in ROWS]
    missing = [route for route in _routes() if not any(covers(e, route) for e in entries)]
    assert missing == [], f"routes without a row in tests/access_table.py: {missing}"
    unused = [e for e in entries if not any(covers(e, route) for route in _routes())]
    assert unused == [], f"rows for routes that no longer exist: {unused}"
    assert len(entries) == len(set(entries))


def test_every_row_names_every_role_and_a_known_check():
    for r in ROWS:
        for probe in r.probes:
            assert set(probe.expect) == set(ROLES), r.route
            assert probe.check is None or probe.check in CHECKS, probe.check


def test_every_tile_route_and_layer_has_a_row():
    from tiles import server

    routes = {
        name for name, value in vars(server).items() if name.endswith("_PATH") and hasattr(value, "match")
    }
    assert routes <= set(ASGI_ROUTES), sorted(routes - set(ASGI_ROUTES))
    assert set(TILE_LAYERS) == set(LAYERS), set(LAYERS) ^ set(TILE_LAYERS)
    for layer, kind in TILE_LAYERS.items():
        assert kind == ("public" if LAYERS[layer].public else "internal"), layer


# ------------------------------------------------------------------------------------------ over HTTP
@pytest.fixture(scope="session")
def tokens(matrix, test_database_url):
    """A bearer token per matrix user, committed on a connection of its own (the app server must see it
    even when this fixture is first used inside a test's transaction), revoked at the end."""
    import psycopg

    out = {}
    with psycopg.connect(test_database_url, autocommit=True) as conn:
        for key, who in matrix["users"].items():
            if who.username:
                raw = secrets.token_urlsafe(32)
                conn.execute(
                    "insert into accounts_apitoken (user_id, key_hash, created_at, expires_at) "
                    "select id, %s, now(), now() + interval '2 hours' from auth_user where username = %s",
                    [hash_token(raw), who.username],
                )
                out[key] = raw
    yield out
    with psycopg.connect(test_database_url, autocommit=True) as conn:
        conn.execute(
            "delete from accounts_apitoken where key_hash = any(%s)", [[hash_token(t) for t in out.values()]]
        )


def _committed_case(grid: str) -> Case:
    return Case.objects.filter(grid_code=grid, geom__isnull=False).order_by("id").first()


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ASGI_ROUTES))
def test_tile_server_routes(name, app_server, matrix, tokens):
    probe = ASGI_ROUTES[name]
    case = _committed_case(matrix["grid"])
    x, y = merc_tile(*_merc(case), 14)
    path = probe.path.replace("{x14}", str(x)).replace("{y14}", str(y))
    for role in ROLES:
        for side in ("in", "out"):
            who = matrix["users"].get((role, side))
            if who is None:
                continue
            reply = http(app_server, path, token=tokens.get((role, side)))
            assert reply.status in _allowed(probe.expect[role], side), (name, role, side, reply.status)


def _merc(case: Case) -> tuple[float, float]:
    with connection.cursor() as cur:
        cur.execute("select st_x(geom_3857), st_y(geom_3857) from cases_case where id = %s", [case.pk])
        return cur.fetchone()


@pytest.mark.django_db
@pytest.mark.parametrize("layer", sorted(TILE_LAYERS))
def test_tile_layers(layer, app_server, matrix, tokens):
    """Each layer's tile over case A's place at z15, for every role inside and outside: internal layers
    401 to the public; every feature with a grid code inside the user's jurisdiction unless public."""
    case = _committed_case(matrix["grid"])
    x, y = merc_tile(*_merc(case), 15)
    spec = LAYERS[layer]
    for role in ROLES:
        for side in ("in", "out"):
            who = matrix["users"].get((role, side))
            if who is None:
                continue
            reply = http(app_server, tile_path(layer, 15, x, y), token=tokens.get((role, side)))
            if TILE_LAYERS[layer] == "internal" and who.username is None:
                assert reply.status == 401, (layer, role)
                continue
            assert reply.status in (200, 204), (layer, role, side, reply.status)
            features = reply.layers().get(layer, {}).get("features", [])
            if spec.public and spec.public_filter is None:
                continue
            for f in features:
                props = f["properties"]
                if spec.public and props.get("is_public", True):
                    continue
                if layer == "cases":
                    c = Case.objects.get(number=props["number"])
                    assert who.sees_case(c), (layer, role, side, c.number)
                else:
                    assert who.sees_grid(props.get("grid_code", "")), (layer, role, side, props)
            if layer == "cases":
                numbers = {f["properties"]["number"] for f in features}
                assert (case.number in numbers) == who.sees_case(case), (role, side)


@pytest.mark.django_db
def test_live_feed_reaches_exactly_the_jurisdictions(app_server, matrix, tokens, test_database_url):
    """One change of a case in G dispatched to department 1 (a NOTIFY as the trigger sends it): every
    subscriber inside sees it, no subscriber outside does, and the public cannot subscribe."""
    import psycopg

    g = matrix["grid"]
    d1 = matrix["users"][("department", "in")].department_id
    assert httpx.get(app_server + "/api/cases/stream", timeout=5).status_code == 401
    got: dict[tuple[str, str], list[str]] = {}
    ready = threading.Barrier(len(tokens) + 1, timeout=30)
    marker = f"ACL{int(time.time() * 1000)}"

    def listen(key, token):
        got[key] = []
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with httpx.stream(
                "GET", app_server + "/api/cases/stream", headers=headers, timeout=httpx.Timeout(10, read=4)
            ) as r:
                got[key].append(f"status: {r.status_code}")
                lines = r.iter_lines()
                next(lines)  # "retry: …": the LISTEN is in place
                ready.wait()
                for line in lines:
                    if line.startswith("data:"):
                        got[key].append(line)
                        if marker in line:
                            break
        except httpx.ReadTimeout:  # nothing arrived: what a subscriber outside should see
            pass
        except Exception as exc:  # noqa: BLE001
            got[key].append(f"error: {exc!r}")

    threads = [threading.Thread(target=listen, args=(k, t), daemon=True) for k, t in tokens.items()]
    for t in threads:
        t.start()
    ready.wait()
    # The server yields its first line before it waits in notifies(): a NOTIFY in that instant is not
    # delivered (psycopg drops notifications outside notifies()), so give every stream a moment.
    time.sleep(1.0)
    payload = {
        "op": "update",
        "id": 0,
        "number": marker,
        "status": "dispatched",
        "grid_code": g,
        "department_id": d1,
        "version": 1,
    }
    with psycopg.connect(test_database_url, autocommit=True) as conn:
        conn.execute("select pg_notify('onenet_cases', %s)", [json.dumps(payload)])
    for t in threads:
        t.join(timeout=15)
    for key, who in matrix["users"].items():
        if who.username is None:
            continue
        assert got.get(key, [""])[0] == "status: 200", (key, got.get(key))
        seen = any(marker in line for line in got[key])
        expected = who.everything or who.sees_grid(g) or who.department_id == d1
        assert seen == expected, (key, seen)
