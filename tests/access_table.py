"""The access matrix: what every role gets from every route of the app, in one table.

tests/test_access_matrix.py enumerates Django's URL resolver, the tile server's routes and the layer
registry and fails for any of them without a row here, so a new endpoint cannot ship without saying who
may use it.  Each row probes a route with one or more requests; each probe says, per role, the status
the role's user *inside* the target's jurisdiction gets and the one its user *outside* gets:

    E(public, grid_worker, community, street, district, department, planner, leader, admin)

An int is the answer of both users; a pair is (inside, outside); a frozenset allows any of its statuses
(a request that reaches validation: `REACHES`).  Data checks (`check=`) name a function of the test that
looks at the answer itself: only objects inside the user's jurisdiction, the target present exactly for
the inside user, personal fields masked.

The users and targets (tests/test_access_matrix.py, `world`): the target grid G is the demo `worker`'s
grid; case A lies in G, is open and dispatched to department 1, and has a reporter contact.  Inside
users: gw<G>, dispatchers of G's community, street and district, department 1, the demo planner and
leader, admin.  Outside users: gw<G2> (a grid of another street), dispatchers of G2's community and
street, and district-level users of another district (990103), department 2.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = (
    "public",
    "grid_worker",
    "community_dispatcher",
    "street_dispatcher",
    "district_dispatcher",
    "department",
    "planner",
    "leader",
    "admin",
)

SEE = (200, 404)  # the inside user reads it; to the outside user it does not exist
AREA = (200, 403)  # an area parameter inside the jurisdiction is answered; outside it is refused
REACHES = frozenset({200, 201, 202, 204, 400, 409, 422})  # past authorisation, into validation
LOGIN = 302  # a page redirects an anonymous (or non-staff, for the admin) user to its login page

Outcome = int | frozenset | tuple


def E(*outcomes: Outcome) -> dict[str, Outcome]:
    """One outcome per role, in ROLES order."""
    assert len(outcomes) == len(ROLES), outcomes
    return dict(zip(ROLES, outcomes, strict=True))


def everyone(status: Outcome) -> dict[str, Outcome]:
    return dict.fromkeys(ROLES, status)


def login(status: Outcome, anonymous: int = 401) -> dict[str, Outcome]:
    return {**dict.fromkeys(ROLES, status), "public": anonymous}


@dataclass(frozen=True)
class Probe:
    method: str
    path: str  # {case} {case_pk} {grid} {community} {street} {draft} {job} {campaign} {attachment} …
    expect: dict[str, Outcome]
    body: dict | str | None = None  # JSON (dict) or a named form/multipart body (str, see the test)
    check: str | None = None  # a data check of the test, run on every 200 answer
    http: bool = False  # over HTTP through the app server (endless streams), with bearer tokens


@dataclass(frozen=True)
class Row:
    route: str  # as Django's resolver prints the pattern; a trailing "*" covers every route below it
    probes: tuple[Probe, ...]
    note: str = ""


def row(route: str, *probes: Probe, note: str = "") -> Row:
    return Row(route, probes, note)


def get(path: str, expect: dict, check: str | None = None) -> Probe:
    return Probe("GET", path, expect, None, check)


def post(path: str, expect: dict, body: dict | str | None = None, check: str | None = None) -> Probe:
    return Probe("POST", path, expect, body if body is not None else {}, check)


# Who plans boundaries: planners and admins, inside their area (anyone else: 403 before any lookup).
PLANNING = E(401, 403, 403, 403, 403, 403, SEE, 403, 200)
PLANNING_WRITE = E(401, 403, 403, 403, 403, 403, (REACHES, 404), 403, REACHES)
# Planners and admins only, before any look at the body or the area (the body then decides: REACHES).
PLANNER_ONLY = E(401, 403, 403, 403, 403, 403, REACHES, 403, REACHES)
GENERATIONS = E(401, 403, 403, 403, 403, 403, AREA, 403, 200)
# A case: everyone whose jurisdiction (or department) holds it; nobody else.
CASE = E(401, SEE, SEE, SEE, SEE, SEE, SEE, SEE, 200)
# Party organisations: by area only (departments have none).
PARTY = E(401, SEE, SEE, SEE, SEE, 404, SEE, SEE, 200)
# Acting on a case (comment, photos): the relations of the workflow table (cases/workflow.py) — the
# grid's worker, the responsible dispatchers, the assignee (department 1), admin; planners and leaders
# read but do not act.
CASE_ACT = E(401, SEE, SEE, SEE, SEE, SEE, (403, 404), (403, 404), 200)
# Reading the reporter's contact in clear: those who may have to call back (dispatchers, assignee).
ATTACH = E(401, (201, 404), (201, 404), (201, 404), (201, 404), (201, 404), (403, 404), (403, 404), 201)
UNMASK = E(401, (403, 404), SEE, SEE, SEE, SEE, (403, 404), (403, 404), 200)
# An area of the map inside / outside the jurisdiction (departments have no area: cases only).
AREA_CASES = E(401, AREA, AREA, AREA, AREA, 200, AREA, AREA, 200)
AREA_PEOPLE = E(401, AREA, AREA, AREA, AREA, 403, AREA, AREA, 200)
# Campaigns pushed to G's community: the grids' workers and the dispatchers and leaders over them.
CAMPAIGN = E(401, SEE, SEE, SEE, SEE, 404, SEE, SEE, 200)
CAMPAIGN_TICK = E(401, SEE, SEE, SEE, SEE, 404, (403, 404), (403, 404), 200)
CAMPAIGN_LAUNCH = E(401, 403, (201, 403), (201, 403), (201, 403), 403, 403, (201, 403), 201)

# The field page's API: grid workers (a grid-worker record) only; a write without its Idempotency-Key is 400.
FIELD_WORKER = E(401, 200, 403, 403, 403, 403, 403, 403, 403)
FIELD_WRITE = E(401, 400, 403, 403, 403, 403, 403, 403, 403)

INTERNAL_LAYERS = ("cases", "party-organisations")
PUBLIC_LAYERS = ("admin-units", "grids", "buildings", "service-stations", "roads", "water", "green")

ROWS: tuple[Row, ...] = (
    # ---------------------------------------------------------------------------------- service
    row("healthz", get("/healthz", everyone(200))),
    row("favicon.ico", get("/favicon.ico", everyone(204)), note="no icon, and no 404 in the console"),
    row("api/openapi.json", get("/api/openapi.json", everyone(200))),
    row("api/docs", get("/api/docs", everyone(200))),
    # ---------------------------------------------------------------------------------- accounts
    row("accounts/login/", get("/accounts/login/", everyone(200))),
    row(
        "accounts/logout/",
        get("/accounts/logout/", everyone(405)),
        post("/accounts/logout/", everyone(frozenset({200, 302})), body="form"),
    ),
    row("accounts/password_change/", get("/accounts/password_change/", login(200, anonymous=LOGIN))),
    row(
        "accounts/password_change/done/",
        get("/accounts/password_change/done/", login(200, anonymous=LOGIN)),
    ),
    row(
        "api/auth/token",
        get("/api/auth/token", everyone(405)),
        post("/api/auth/token", login(200), body="own-credentials"),
        note="public: a wrong password is 401",
    ),
    # ---------------------------------------------------------------------------------- admin
    row(
        "admin/basemap.geojson", get("/admin/basemap.geojson?bbox=0,0,1,1", {**everyone(LOGIN), "admin": 200})
    ),
    row(
        "admin/*",
        get("/admin/", {**everyone(LOGIN), "admin": 200}),
        get("/admin/layers/resident/", {**everyone(LOGIN), "admin": 200}, check="admin_list_masked"),
        get("/admin/cases/case/{case_pk}/change/", {**everyone(LOGIN), "admin": 200}),
        get("/admin/accounts/personaldataaccess/", {**everyone(LOGIN), "admin": 200}),
        note="staff only; only the administrator is staff",
    ),
    # ---------------------------------------------------------------------------------- OGC API
    row("ogcapi/", get("/ogcapi/", everyone(200))),
    row("ogcapi/^api/?$", get("/ogcapi/api", everyone(200))),
    row("ogcapi/^conformance/?$", get("/ogcapi/conformance", everyone(200))),
    row("ogcapi/^collections/?$", get("/ogcapi/collections", everyone(200), check="ogc_collections")),
    row(
        "ogcapi/^collections/(?P<collection_id>[^/]+)/?$",
        *(get(f"/ogcapi/collections/{c}", everyone(200)) for c in PUBLIC_LAYERS),
        *(get(f"/ogcapi/collections/{c}", login(200)) for c in INTERNAL_LAYERS),
    ),
    row(
        "ogcapi/^collections/(?P<collection_id>[^/]+)/items/?$",
        *(get(f"/ogcapi/collections/{c}/items?limit=5", everyone(200)) for c in PUBLIC_LAYERS),
        get("/ogcapi/collections/service-stations/items?grid_code={grid}", everyone(200), "ogc_stations"),
        get("/ogcapi/collections/cases/items?grid_code={grid}&limit=1000", login(200), "ogc_cases_a"),
        get("/ogcapi/collections/cases/items?limit=1000", login(200), "ogc_cases"),
        get("/ogcapi/collections/party-organisations/items?limit=1000", login(200), "ogc_in_scope"),
    ),
    row(
        "ogcapi/^collections/(?P<collection_id>[^/]+)/items/(?P<fid>[^/]+)/?$",
        get("/ogcapi/collections/buildings/items/{building}", everyone(200)),
        get("/ogcapi/collections/grids/items/{grid_pk}", everyone(200)),
        get("/ogcapi/collections/cases/items/{case_pk}", CASE),
        get("/ogcapi/collections/party-organisations/items/{party}", PARTY),
        get(
            "/ogcapi/collections/service-stations/items/{station}",
            E(404, SEE, SEE, SEE, SEE, 404, SEE, SEE, 200),
        ),
        note="a private station (is_public=false) exists only inside its jurisdiction",
    ),
    row("ogcapi/^(?P<path>.*)$", get("/ogcapi/nothing/here", everyone(404))),
    # ---------------------------------------------------------------------------------- geocoder
    row("api/geocode", get("/api/geocode?q={address}", everyone(200))),
    row("api/reverse", get("/api/reverse?lon={lon}&lat={lat}", everyone(200))),
    row("api/geocode/batch", post("/api/geocode/batch", login(202), body="geocode-csv")),
    row(
        "api/geocode/batch/<str:job_id>",
        get("/api/geocode/batch/{job}", E(401, SEE, SEE, SEE, SEE, SEE, SEE, SEE, 200)),
        Probe("DELETE", "/api/geocode/batch/{job}", E(401, SEE, SEE, SEE, SEE, SEE, SEE, SEE, 200)),
        note="a batch job is its owner's (and the administrator's)",
    ),
    row(
        "api/geocode/batch/<str:job_id>/result.csv",
        get("/api/geocode/batch/{job}/result.csv", E(401, *[(REACHES, 404)] * 7, REACHES)),
    ),
    # ---------------------------------------------------------------------------------- boundaries
    row(
        "api/boundaries/drafts",
        get("/api/boundaries/drafts", login(200), check="drafts"),
        post("/api/boundaries/drafts", E(401, 403, 403, 403, 403, 403, (201, 403), 403, 201), body="draft"),
    ),
    row(
        "api/boundaries/drafts/<int:draft_id>",
        get("/api/boundaries/drafts/{draft}", PLANNING),
        Probe("DELETE", "/api/boundaries/drafts/{draft}", PLANNING_WRITE),
    ),
    row("api/boundaries/drafts/<int:draft_id>/grids", get("/api/boundaries/drafts/{draft}/grids", PLANNING)),
    row(
        "api/boundaries/drafts/<int:draft_id>/operations",
        get("/api/boundaries/drafts/{draft}/operations", PLANNING),
        post("/api/boundaries/drafts/{draft}/operations", PLANNING_WRITE),
    ),
    # The planner's editor (/planner/): undo, the draft's units, a shared edge, a file as a draft.
    row(
        "api/boundaries/drafts/<int:draft_id>/undo",
        post("/api/boundaries/drafts/{draft}/undo", PLANNING_WRITE),
    ),
    row("api/boundaries/drafts/<int:draft_id>/units", get("/api/boundaries/drafts/{draft}/units", PLANNING)),
    row(
        "api/boundaries/drafts/<int:draft_id>/edge",
        get("/api/boundaries/drafts/{draft}/edge?grids={grid},{grid}", PLANNING_WRITE),
    ),
    row("api/boundaries/drafts/import", post("/api/boundaries/drafts/import", PLANNER_ONLY)),
    # The grid drawing assistant: a run over an area of the planner's; a run is seen by those who may
    # plan its area (cancelling a finished one is 409).
    row(
        "api/boundaries/proposals",
        post(
            "/api/boundaries/proposals",
            E(401, 403, 403, 403, 403, 403, (202, 403), 403, 202),
            body="proposal",
        ),
    ),
    row(
        "api/boundaries/proposals/<str:proposal_id>",
        get("/api/boundaries/proposals/{proposal}", PLANNING),
        Probe("DELETE", "/api/boundaries/proposals/{proposal}", PLANNING_WRITE),
    ),
    # Published generations: planners and admins, an area inside the planner's jurisdiction.
    row(
        "api/boundaries/generations",
        get("/api/boundaries/generations?net=comprehensive", E(401, *[403] * 5, 200, 403, 200)),
        get("/api/boundaries/generations?net=comprehensive&area={street}", GENERATIONS),
    ),
    row(
        "api/boundaries/generations/compare",
        get("/api/boundaries/generations/compare?net=comprehensive&a=1&b=1&area={community}", GENERATIONS),
    ),
    row(
        "api/boundaries/generations/<int:number>",
        get("/api/boundaries/generations/1?net=comprehensive&area={community}", GENERATIONS),
    ),
    row(
        "api/boundaries/generations/<int:number>/export",
        get(
            "/api/boundaries/generations/1/export?net=comprehensive&area={community}&format=geojson",
            GENERATIONS,
        ),
    ),
    row(
        "api/boundaries/drafts/<int:draft_id>/validation",
        get("/api/boundaries/drafts/{draft}/validation", PLANNING),
    ),
    row(
        "api/boundaries/drafts/<int:draft_id>/impact",
        get("/api/boundaries/drafts/{draft}/impact", PLANNING),
    ),
    row(
        "api/boundaries/drafts/<int:draft_id>/publish",
        post("/api/boundaries/drafts/{draft}/publish", PLANNING_WRITE),
    ),
    row("planner/", get("/planner/", E(LOGIN, 403, 403, 403, 403, 403, 200, 403, 200))),
    # ---------------------------------------------------------------------------------- cases
    row(
        "api/cases",
        get("/api/cases?limit=500&area={grid}", login(200), check="case_list_a"),
        get("/api/cases?limit=500&status=dispatched&area={street}", login(200), check="case_list_a"),
        get("/api/cases?limit=500&needs_placement=true", login(200), check="case_list"),
        post("/api/cases", login(201), body="case"),
        note="anyone logged in may report; a report is then visible to its reporter",
    ),
    row("api/cases/overdue", get("/api/cases/overdue?limit=500", login(200), check="case_list")),
    row(
        "api/cases/stream",
        Probe("GET", "/api/cases/stream", login(200), http=True),
        note="what each subscriber receives: test_live_feed_reaches_exactly_the_jurisdictions",
    ),
    row(
        "api/cases/stats",
        get("/api/cases/stats?group=grid", login(200), check="stats"),
        get("/api/cases/stats?group=grid&format=csv", login(200)),
        get("/api/cases/stats?group=department&format=xlsx", login(200)),
    ),
    row(
        "api/cases/<str:number>",
        get("/api/cases/{case}", CASE, check="case_masked"),
        get("/api/cases/{case}?unmask=reporter_contact", UNMASK, check="case_clear"),
    ),
    row(
        "api/cases/<str:number>/transitions", post("/api/cases/{case}/transitions", CASE_ACT, body="comment")
    ),
    row("api/cases/<str:number>/attachments", post("/api/cases/{case}/attachments", ATTACH, body="photo")),
    row(
        "api/cases/<str:number>/attachments/<int:pk>", get("/api/cases/{case}/attachments/{attachment}", CASE)
    ),
    # ---------------------------------------------------------------------------------- Open311
    row("open311/v2/services.<str:fmt>", get("/open311/v2/services.json", everyone(200))),
    row(
        "open311/v2/requests.<str:fmt>",
        get("/open311/v2/requests.json", everyone(200), check="open311_public"),
        post("/open311/v2/requests.json", everyone(403), body="form"),
        note="reading is public (public channels, no free text); filing needs an API key",
    ),
    row(
        "open311/v2/requests/<str:number>.<str:fmt>",
        get("/open311/v2/requests/{public_case}.json", everyone(200), check="open311_public"),
        get("/open311/v2/requests/{case}.json", everyone(404)),
    ),
    # ---------------------------------------------------------------------------------- campaigns
    row(
        "api/campaigns",
        get("/api/campaigns", login(200), check="campaigns"),
        post("/api/campaigns", CAMPAIGN_LAUNCH, body="campaign"),
    ),
    row("api/campaigns/<int:pk>", get("/api/campaigns/{campaign}", CAMPAIGN, check="campaign_grids")),
    row("api/campaigns/<int:pk>/progress", post("/api/campaigns/{campaign}/progress", CAMPAIGN_TICK, "tick")),
    row("api/campaigns/<int:pk>/map", get("/api/campaigns/{campaign}/map", CAMPAIGN, check="campaign_map")),
    # ---------------------------------------------------------------------------------- public reports
    row("api/public/reports", post("/api/public/reports", everyone(201), body="public-report")),
    row("api/public/reports/<str:number>", get("/api/public/reports/{public_case}", everyone(200))),
    row("api/public/nearby", get("/api/public/nearby?lon={lon}&lat={lat}", everyone(200), "nearby")),
    # ---------------------------------------------------------------------------------- map pages
    row("", get("/", everyone(200))),
    row("dispatch/", get("/dispatch/", login(200, anonymous=LOGIN))),
    row("api/map/areas/", get("/api/map/areas/", everyone(200))),
    row("api/map/areas/<str:code>", get("/api/map/areas/{grid}", everyone(200))),
    row(
        "api/map/cases.geojson",
        get("/api/map/cases.geojson", login(200), check="geojson_cases"),
        get("/api/map/cases.geojson?area={grid}", AREA_CASES, check="geojson_cases"),
    ),
    row("api/map/indicators/people", get("/api/map/indicators/people?area={grid}", AREA_PEOPLE)),
    row("api/map/indicators/events", get("/api/map/indicators/events?area={grid}", AREA_CASES)),
    row("api/map/indicators/operations", get("/api/map/indicators/operations?area={grid}", AREA_CASES)),
    row("api/map/cases/<str:number>/suggestion", get("/api/map/cases/{case}/suggestion", CASE)),
    row("api/map/departments", get("/api/map/departments", login(200))),
    row("api/map/categories", get("/api/map/categories", login(200))),
    row(
        "api/map/export/grid/<str:code>.html",
        get("/api/map/export/grid/{grid}.html", E(401, AREA, AREA, AREA, AREA, 403, AREA, AREA, 200)),
    ),
    row("api/map/export/case/<str:number>.html", get("/api/map/export/case/{case}.html", CASE)),
    # ---------------------------------------------------------------------------------- field page
    row("field/", get("/field/", login(200, anonymous=LOGIN)), note="a non-worker sees the page say so"),
    row("field/sw.js", get("/field/sw.js", everyone(200)), note="the service worker: bundle URLs only"),
    row("api/field/me", get("/api/field/me", FIELD_WORKER), note="only users with a grid-worker record"),
    row(
        "api/field/checkins",
        get("/api/field/checkins?area={street}", login(200)),
        post("/api/field/checkins", FIELD_WRITE),
        note="a worker lists their own; others their jurisdiction's; writing needs an Idempotency-Key",
    ),
    row("api/field/patrols/points", post("/api/field/patrols/points", FIELD_WRITE)),
    row("api/field/patrols/today", get("/api/field/patrols/today?area={grid}", login(200))),
)


# ------------------------------------------------------------------------------------------- tiles
# The raw ASGI routes of the tile server (tiles/server.py, mounted at /tiles/ by gisapp/asgi.py): the
# name of each route regex (`*_PATH`) or literal path, and the probe.  Tile contents per layer and role
# are checked against TILE_LAYERS below.
ASGI_ROUTES: dict[str, Probe] = {
    "TILE_PATH": get("/tiles/grids/14/{x14}/{y14}.mvt", everyone(frozenset({200, 204}))),
    "TILEJSON_PATH": get("/tiles/grids.json", everyone(200)),
    "GLYPH_PATH": get("/tiles/glyphs/WenQuanYi%20Micro%20Hei%20Regular/0-255.pbf", everyone(200)),
    "/tiles/style.json": get("/tiles/style.json", everyone(200)),
    "/tiles/": get("/tiles/", everyone(200)),
}

# Every layer of the registry: "public" (everyone, all rows — or, with a public filter, the public rows
# to the public and also the private ones inside a jurisdiction) or "internal" (401 to the public, rows
# inside the jurisdiction — or dispatched to the department — to everyone else).
TILE_LAYERS: dict[str, str] = {
    "admin-units": "public",
    "grids": "public",
    "buildings": "public",
    "party-organisations": "internal",
    "service-stations": "public",
    "roads": "public",
    "water": "public",
    "green": "public",
    "cases": "internal",
}


def covers(entry: str, route: str) -> bool:
    return route.startswith(entry[:-1]) if entry.endswith("*") else route == entry
