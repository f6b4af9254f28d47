"""The settings and headers a security reviewer checks first (docs/SECURITY.md).

- every page and API answer carries a Content-Security-Policy without inline script, nosniff, a referrer
  policy and frame denial; no page of ours contains an inline script (config is JSON data);
- every route that takes a POST with a session cookie wants the CSRF token, except the documented few that
  never use the session (token, API key, anonymous);
- production settings (the default without ONENET_DEMO=1): secure cookies, HSTS, HTTPS redirect (not for
  the container's health check), `manage.py check --deploy` without a warning, no debug, a real key;
- no secret in the repository;
- in a real browser, the public map, the login page and an admin form with the offline map raise no CSP
  violation, and the admin map starts without an inline script.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from access_table import ROWS
from django.contrib.auth.models import User
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
PROD_ENV = {
    "ONENET_DEMO": "0",
    "ONENET_DEBUG": "0",
    "ONENET_SECRET_KEY": "p" + "r0d-k3y-" * 8,  # a test value of the right length, not a real key
    "ONENET_ALLOWED_HOSTS": "gis.example,127.0.0.1",
}

# Routes whose POST does not use the session, so the CSRF token is not needed (csrf_exempt) — and must
# not be: their callers have no cookie.  Each answers the same with and without a session.
CSRF_EXEMPT = {
    "api/auth/token": "the password is the credential",
    "open311/v2/requests.<str:fmt>": "Open311 clients authenticate with api_key",
    "api/public/reports": "anonymous reports; the reporter is never the logged-in user",
}
# Views that check the CSRF token themselves, to answer in JSON (geocoding/views.py): 403 like the rest.
CSRF_CHECKED_IN_VIEW = {"api/geocode/batch", "api/geocode/batch/<str:job_id>"}


def _prod(code: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONENET_")}
    env.update(PROD_ENV, **(extra or {}))
    env["DJANGO_SETTINGS_MODULE"] = "gisapp.settings"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# ------------------------------------------------------------------------------------------ headers
class Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.handlers += [k for k in a if k.startswith("on")]
        if tag == "script":
            self._open = a

    def handle_data(self, data):
        if self._open is not None and not self._open.get("src") and data.strip():
            if self._open.get("type") not in ("application/json", "application/ld+json"):
                self.inline.append(data.strip()[:80])

    def handle_endtag(self, tag):
        if tag == "script":
            self._open = None


def _assert_headers(reply, path: str) -> None:
    csp = reply.headers.get("Content-Security-Policy", "")
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
    assert directives.get("script-src") == "'self'", (path, csp)
    assert "'unsafe-inline'" not in directives.get("script-src", "") and "'unsafe-eval'" not in csp
    assert directives.get("frame-ancestors") == "'none'" and directives.get("object-src") == "'none'"
    assert reply.headers.get("X-Content-Type-Options") == "nosniff", path
    assert reply.headers.get("Referrer-Policy") == "same-origin", path
    assert reply.headers.get("X-Frame-Options") == "DENY", path


PAGES = [
    (None, "/"),
    (None, "/accounts/login/"),
    ("dispatcher", "/dispatch/"),
    ("planner", "/planner/"),
    ("worker", "/field/"),
    ("admin", "/admin/"),
    ("admin", "/admin/layers/resident/"),
    ("admin", "/admin/layers/grid/{grid}/change/"),
    ("admin", "/admin/layers/servicestation/add/"),
    ("dispatcher", "/accounts/password_change/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("user, path", PAGES)
def test_pages_have_the_headers_and_no_inline_script(user, path):
    from layers.models import Grid

    client = Client()
    if user:
        client.force_login(User.objects.get(username=user))
    path = path.replace("{grid}", str(Grid.objects.current().order_by("id").values_list("id", flat=True)[0]))
    reply = client.get(path)
    if reply.status_code == 404 and path in ("/planner/", "/field/"):
        pytest.skip(f"{path} is not in this checkout")
    assert reply.status_code == 200, (path, reply.status_code)
    _assert_headers(reply, path)
    parser = Scripts()
    parser.feed(reply.content.decode())
    assert parser.inline == [], (path, parser.inline)
    assert parser.handlers == [], (path, parser.handlers)  # onclick=… is inline script too


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/cases", "/api/openapi.json", "/ogcapi/collections", "/api/nothing", "/healthz"]
)
def test_api_answers_and_errors_have_the_headers(client, path):
    _assert_headers(client.get(path), path)


@pytest.mark.django_db
def test_situation_export_is_a_download_under_the_strict_policy(client):
    """The folium file inlines Leaflet (it must work offline, opened from disk): it is served as an
    attachment, so a browser saves it rather than run it as a page of this origin — and if one rendered
    it anyway, the strict policy would stop its scripts."""
    client.force_login(User.objects.get(username="dispatcher"))
    grid = User.objects.get(username="worker").profile.jurisdiction_code
    reply = client.get(f"/api/map/export/grid/{grid}.html")
    assert reply.status_code == 200
    assert reply["Content-Disposition"].startswith("attachment;")
    _assert_headers(reply, "export")


# ------------------------------------------------------------------------------------------ CSRF
def _route_paths() -> list[tuple[str, str]]:
    """One concrete path per row of the access table (its first probe), placeholders made harmless."""
    out = []
    for r in ROWS:
        path = r.probes[0].path.split("?")[0]
        path = re.sub(r"\{\w+\}", "1", path)
        out.append((r.route, path))
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("route, path", _route_paths())
def test_session_posts_need_the_csrf_token(route, path):
    """A logged-in browser session POSTing without the token is refused (403) on every route, except the
    documented exempt routes, which answer exactly as they do without any session (read-only views may
    answer 405 first)."""
    session = Client(enforce_csrf_checks=True)
    session.force_login(User.objects.get(username="admin"))
    reply = session.post(path, data={})
    if route in CSRF_EXEMPT:
        anonymous = Client(enforce_csrf_checks=True).post(path, data={})
        assert reply.status_code == anonymous.status_code, (route, reply.status_code, anonymous.status_code)
        return
    # 403: the token is missing; 405: a read-only view refuses POST before doing anything at all.
    assert reply.status_code in (403, 405), (route, path, reply.status_code, reply.content[:200])
    if reply.status_code == 403 and route not in CSRF_CHECKED_IN_VIEW:
        assert b"CSRF" in reply.content or b"csrf" in reply.content, (route, reply.content[:200])


@pytest.mark.django_db
def test_bearer_token_requests_are_not_csrf_checked(client):
    """Token-authenticated API calls carry no cookie a third site could ride on: exempt by design."""
    import datetime as dt

    from gisapp.accounts.models import ApiToken

    raw = ApiToken.issue(User.objects.get(username="dispatcher"), dt.timedelta(hours=1))
    c = Client(enforce_csrf_checks=True)
    reply = c.post(
        "/api/cases", data="{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert reply.status_code == 400  # past CSRF and login, refused for its empty body


# ------------------------------------------------------------------------------------------ production
def test_production_is_the_default_and_refuses_to_start_insecurely():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONENET_")}
    code = "import django; django.setup()"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "DJANGO_SETTINGS_MODULE": "gisapp.settings"},
    )
    assert out.returncode != 0 and "ONENET_SECRET_KEY" in out.stderr
    debug = _prod("import django; django.setup()", {"ONENET_DEBUG": "1"})
    assert debug.returncode != 0 and "ONENET_DEBUG" in debug.stderr


def test_production_settings():
    out = _prod(
        "import json, django; django.setup(); from django.conf import settings as s;"
        "print(json.dumps({k: getattr(s, k) for k in ("
        "'DEBUG', 'DEMO_MODE', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT',"
        "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SESSION_COOKIE_HTTPONLY',"
        "'SECURE_CONTENT_TYPE_NOSNIFF', 'X_FRAME_OPTIONS', 'SECURE_REDIRECT_EXEMPT')}))"
    )
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["DEBUG"] is False and s["DEMO_MODE"] is False
    assert s["SESSION_COOKIE_SECURE"] and s["CSRF_COOKIE_SECURE"] and s["SECURE_SSL_REDIRECT"]
    assert s["SECURE_HSTS_SECONDS"] >= 31536000 and s["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert (
        s["SESSION_COOKIE_HTTPONLY"] and s["SECURE_CONTENT_TYPE_NOSNIFF"] and s["X_FRAME_OPTIONS"] == "DENY"
    )


def test_demo_settings_work_on_plain_http(settings):
    """`./gis up` and the tests: demo mode, cookies over http://127.0.0.1, no redirect."""
    assert settings.DEMO_MODE and not settings.DEBUG
    assert not getattr(settings, "SECURE_SSL_REDIRECT", False)
    assert not getattr(settings, "SESSION_COOKIE_SECURE", False)
    assert 'ONENET_DEMO="${ONENET_DEMO:-1}"' in (ROOT / "gis").read_text()


def test_check_deploy_is_clean_with_the_production_environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONENET_")}
    env.update(PROD_ENV)
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout, out.stdout


def test_production_redirects_to_https_but_not_the_health_check(test_database_url):
    code = (
        "import django; django.setup(); from django.test import Client;"
        "from django.test.utils import setup_test_environment; setup_test_environment();"
        "c = Client(HTTP_HOST='gis.example');"
        "r = c.get('/dispatch/'); print(r.status_code, r.get('Location'));"
        "r = c.get('/healthz'); print(r.status_code);"
        "r = c.get('/', secure=True); print(r.status_code, r.get('Strict-Transport-Security'))"
    )
    out = _prod(code, {"DATABASE_URL": test_database_url})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0] == "301 https://gis.example/dispatch/", lines
    assert lines[1] in ("200", "503"), lines  # not redirected
    assert lines[2].startswith("200 max-age=31536000; includeSubDomains"), lines


# ------------------------------------------------------------------------------------------ secrets
SECRET_PATTERNS = [
    r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----",
    r"AKIA[0-9A-Z]{16}",
    r"ghp_[A-Za-z0-9]{36}",
    r"sk-[A-Za-z0-9]{32,}",
    r"(?i)(?:secret_key|password|passwd|api_key)\s*[=:]\s*['\"][^'\"\s]{12,}['\"]",
]
# Documented demo data (README): the demo password, the Open311 demo key, the insecure demo secret key.
DEMO_VALUES = ("onenet-demo", "onenet-demo-key", "onenet-insecure-demo-key-change-me-")


def test_no_secrets_in_the_repository():
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split("\n")
    found = []
    for name in files:
        path = ROOT / name
        if not name or not path.is_file() or path.suffix in (".png", ".jpg", ".pbf", ".xlsx", ".gpkg"):
            continue
        if path.stat().st_size > 2_000_000 or "node_modules" in name:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        for pattern in SECRET_PATTERNS:
            for m in re.finditer(pattern, text):
                if not any(v in m.group(0) for v in DEMO_VALUES) and "test" not in name.split("/")[0]:
                    found.append(f"{name}: {m.group(0)[:60]}")
    assert found == [], found
    assert not list(ROOT.glob("**/.env")), "an .env file is tracked"


# ------------------------------------------------------------------------------------------ browser
@pytest.mark.django_db
def test_no_csp_violation_in_the_browser(app_server):
    """The public map, the login page and an admin form with the offline map, in Chromium: no CSP
    violation, no console error, and the admin map started (its widget object exists, OpenLayers drew)."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (./gis test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from layers.models import ServiceStation

    station = ServiceStation.objects.order_by("id").values_list("id", flat=True)[0]
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--disable-background-networking", "--disable-component-update", "--no-first-run"],
            )
            page = browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
            page.add_init_script(
                "document.addEventListener('securitypolicyviolation', e => "
                "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
            )
            page.goto(app_server + "/accounts/login/")
            page.goto(app_server + "/")
            page.wait_for_function("() => document.body.dataset.ready", timeout=60_000)
            page.goto(app_server + "/admin/login/?next=/admin/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", "onenet-demo")
            page.click("input[type=submit]")
            page.goto(f"{app_server}/admin/layers/servicestation/{station}/change/")
            page.wait_for_function("() => window.geodjango_geom && window.geodjango_geom.map", timeout=30_000)
            page.wait_for_selector(".dj_map canvas", timeout=30_000)
            browser.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before
    assert problems == [], problems
