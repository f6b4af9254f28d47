"""Test fixtures shared by the whole suite.

The demo city is generated once into the test database (kept between runs with --reuse-db and reloaded
only when the generator changes) and every test runs inside a transaction that is rolled back, so tests
see the whole city and never change it for one another.  Never use `transactional_db` or pytest-django's
`live_server`: both flush the tables, the demo city with them.  Tests that need a real HTTP server use
`app_server`, a uvicorn subprocess on the test database.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from server_helpers import free_port, start_server

ROOT = Path(__file__).resolve().parent.parent
DEMO_SEED = 20261122


def pytest_collection_modifyitems(items):
    """Tests that reach the database only through `app_server` (or `test_database_url`) need the test
    database too: pytest-django sets one up only when some collected test asks for `db`, and without it
    the URL names the main database — the demo city would be reloaded and written to by the server."""
    for item in items:
        if "test_database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.django_db)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from fixtures.loader import ensure_loaded

    with django_db_blocker.unblock():
        ensure_loaded("demo", seed=DEMO_SEED, progress=False)


@pytest.fixture(autouse=True)
def _fresh_rule_caches():
    """Rules memoised per process (working calendar, deadline rules) must not leak between tests."""
    from cases.calendar import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture(scope="session")
def test_database_url(django_db_setup) -> str:
    from django.db import connection

    s = connection.settings_dict
    assert s["NAME"] == s["TEST"]["NAME"], f"not the test database: {s['NAME']}"
    user = s.get("USER") or "postgres"
    auth = f"{user}:{s['PASSWORD']}" if s.get("PASSWORD") else user
    return f"postgres://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture(scope="session")
def app_server(test_database_url):
    """The real ASGI app under uvicorn, on the (demo-loaded) test database: base URL."""
    port = free_port()
    proc = start_server(test_database_url, port)
    base = f"http://127.0.0.1:{port}"
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # a stream still open keeps a graceful shutdown waiting
        proc.kill()
        proc.wait(timeout=10)
