"""Schemathesis against the app's own OpenAPI documents, anonymous and with a bearer token.

Every operation of /api/openapi.json (the JSON APIs) and of /ogcapi/api (the OGC API, which describes
itself) is called with generated requests — valid and invalid — on the real server (`app_server`, uvicorn
on the test database).  Checks: no 5xx, every status code, content type, header and body as documented.

Bounded for `./gis test` (a few examples per operation); the long run raises the bound by environment:

    ONENET_FUZZ_EXAMPLES=500 ONENET_TEST_DB=test_onenet_fuzz .venv/bin/pytest tests/test_fuzz.py -q

(`bench/fuzz/run.sh` does that).  Rows the fuzzer manages to create are committed by the server, so they
are removed at the end (everything newer than the marks taken at the start), and the city the other tests
read stays as it was.
"""

from __future__ import annotations

import os

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

pytestmark = pytest.mark.django_db  # the test database (the server writes to it, never to the main one)

EXAMPLES = int(os.environ.get("ONENET_FUZZ_EXAMPLES", "6"))
# SSE never ends by itself: its contract (401 anonymous, text/event-stream) is tested in test_cases_live.
SKIPPED = r"^/api/cases/stream$"
# What the server must get right for every request, valid or not.
CHECKS = {
    "not_a_server_error": {"enabled": True},
    "status_code_conformance": {"enabled": True},
    "content_type_conformance": {"enabled": True},
    "response_headers_conformance": {"enabled": True},
    "response_schema_conformance": {"enabled": True},
    "negative_data_rejection": {"enabled": True},
}
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("ONENET_FUZZ_SEED") is None,
    suppress_health_check=list(HealthCheck),
    database=None,
)

# Tables the server may add rows to while being fuzzed, each with its id column: cleaned up afterwards.
TABLES = [
    ("cases_case", "id"),
    ("boundaries_draft", "id"),
    ("cases_campaign", "id"),
    ("geocoding_geocodejob", "created_at"),
    ("cases_attachment", "id"),
    ("idempotency_idempotentrequest", "id"),
]


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "request-timeout": 60,
            "checks": {"enabled": False, **CHECKS},
            "generation": {"max-examples": EXAMPLES, "mode": "all"},
            "phases": {"stateful": {"enabled": False}},
        }
    )


def _token(base: str, username: str) -> str:
    r = httpx.post(f"{base}/api/auth/token", json={"username": username, "password": "onenet-demo"})
    r.raise_for_status()
    return r.json()["token"]


def _marks(dsn: str) -> dict[str, object]:
    with psycopg.connect(dsn) as conn:
        return {t: conn.execute(f"select max({col}) from {t}").fetchone()[0] for t, col in TABLES}


def _delete(conn: psycopg.Connection, table: str, where: str, params: list) -> None:
    """Delete rows and, first, every row referencing them (Django's cascades live in the ORM, not in
    the database)."""
    refs = conn.execute(
        """
        select c.conrelid::regclass::text, a.attname, af.attname
        from pg_constraint c
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
        join pg_attribute af on af.attrelid = c.confrelid and af.attnum = c.confkey[1]
        where c.contype = 'f' and c.confrelid = %s::regclass and c.conrelid <> c.confrelid
        """,
        [table],
    ).fetchall()
    for child, column, target in refs:
        _delete(conn, child, f"{column} in (select {target} from {table} where {where})", params)
    conn.execute(f"delete from {table} where {where}", params)


def _cleanup(dsn: str, marks: dict[str, object]) -> None:
    """Delete what the fuzzer made (rows newer than the marks), trails included."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("set constraints all immediate")
        conn.execute("alter table cases_caseevent disable trigger cases_event_append_only")
        for table, col in TABLES:
            mark = marks[table]
            if table == "cases_case":  # self-references first
                conn.execute(
                    "update cases_case set duplicate_of_id = null where duplicate_of_id in "
                    "(select id from cases_case where id > %s)",
                    [mark or 0],
                )
            if mark is None:
                _delete(conn, table, "true", [])
            else:
                _delete(conn, table, f"{col} > %s", [mark])
        conn.execute("alter table cases_caseevent enable trigger cases_event_append_only")
        # Rate-limit windows counted for 127.0.0.1 by the fuzzer would throttle later tests' reports.
        conn.execute("delete from frontend_ratelimitbucket")


@pytest.fixture(scope="module")
def server(app_server, test_database_url):
    """The server, and a dispatcher's token taken before the fuzzer spends this address's allowance of
    token requests on POST /api/auth/token (rate-limited: the 429s are part of what is checked)."""
    marks = _marks(test_database_url)
    token = _token(app_server, "dispatcher")
    yield app_server, token
    _cleanup(test_database_url, marks)


@pytest.fixture
def fuzzed(server):
    return server[0]


@pytest.fixture
def token(server):
    return server[1]


def _api_document() -> dict:
    from gisapp.api import api

    return api.get_openapi_schema()


def _ogc_document() -> dict:
    """The OGC API's description as a caller who may read every collection sees it; anonymous callers
    get 401 from the internal ones, which the document lists."""
    from layers.ogcapi.openapi import openapi_document
    from layers.registry import LAYERS

    doc = openapi_document("/ogcapi", list(LAYERS.values()))
    doc["servers"] = [{"url": "/ogcapi"}]
    return doc


def _schema(doc: dict):
    return schemathesis.openapi.from_dict(doc, config=_config()).exclude(path_regex=SKIPPED)


API = _schema(_api_document())
OGC = _schema(_ogc_document())


def _call(case, base: str, headers: dict[str, str]) -> None:
    excluded = []
    if (case.media_type or "").startswith("text/"):
        # A "wrong type" text body is serialised to text all the same ('{}' is a one-line CSV): the
        # request on the wire is valid, so its acceptance is not a failure.
        from schemathesis.specs.openapi.checks import negative_data_rejection

        excluded.append(negative_data_rejection)
    case.call_and_validate(
        base_url=base + case.operation.schema.base_path.rstrip("/"), headers=headers, excluded_checks=excluded
    )


@API.parametrize()
@SETTINGS
def test_api_anonymous(case, fuzzed):
    _call(case, fuzzed, {})


@API.parametrize()
@SETTINGS
def test_api_with_token(case, fuzzed, token):
    _call(case, fuzzed, {"Authorization": f"Bearer {token}"})


@OGC.parametrize()
@SETTINGS
def test_ogcapi_anonymous(case, fuzzed):
    _call(case, fuzzed, {})


@OGC.parametrize()
@SETTINGS
def test_ogcapi_with_token(case, fuzzed, token):
    _call(case, fuzzed, {"Authorization": f"Bearer {token}"})


def _routes(patterns, prefix: str = "") -> list[str]:
    """Every URL route of the project as an OpenAPI path template (`<int:pk>` → `{pk}`)."""
    import re

    from django.urls import URLPattern, URLResolver

    out: list[str] = []
    for p in patterns:
        route = str(p.pattern)
        if route.startswith("^"):  # a regex route (the OGC API, which documents itself)
            continue
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        if isinstance(p, URLResolver):
            out.extend(_routes(p.url_patterns, prefix + route))
        elif isinstance(p, URLPattern):
            out.append("/" + prefix + route)
    return out


def test_every_json_api_route_is_in_the_openapi_document():
    """The fuzzer reads the document: an endpoint missing from it is an endpoint nobody fuzzes."""
    from django.urls import get_resolver

    documented = set(_api_document()["paths"])
    routes = {r for r in _routes(get_resolver().url_patterns) if r.startswith(("/api/", "/open311/"))}
    routes -= {"/api/openapi.json", "/api/docs"}
    assert sorted(routes - documented) == []
