"""docker-compose.yml agrees with the settings the app reads (Docker cannot run on these machines).

Each check is a function returning a list of problems, run once on the real file (no problems expected)
and once on a copy broken on purpose (a problem expected), so that no check passes vacuously.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SETTINGS = ROOT / "gisapp" / "settings.py"
REQUIRED_ENV = ("DATABASE_URL", "ONENET_SECRET_KEY", "ONENET_DEMO", "ONENET_ALLOWED_HOSTS")
# Values the compose file's ${…} references get in these checks (what an operator would export).
HOST_ENV = {
    "POSTGRES_PASSWORD": "db-secret",
    "ONENET_SECRET_KEY": "k" * 50,
    "ONENET_ALLOWED_HOSTS": "gis.example",
}
FALSE_VALUES = {"0", "false", "no", "off"}

Compose = dict
Check = Callable[[Compose], list[str]]


def load_compose() -> Compose:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


_VAR = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution (${X}, ${X:-default}, ${X:?error}, $$), enough for these checks."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        op, arg = m.group("op"), m.group("arg") or ""
        current = env.get(name)
        if op in (":-", "-"):
            return current if current or (op == "-" and current is not None) else arg
        if op in (":?", "?") and not current:
            raise ValueError(f"${{{name}}} is required: {arg}")
        return current or ""

    return _VAR.sub(sub, value)


def settings_env_names() -> set[str]:
    """Environment variables gisapp/settings.py reads (os.environ.get / os.environ[...] / env_flag)."""
    source = SETTINGS.read_text(encoding="utf-8")
    pattern = r"(?:os\.environ\.get|os\.getenv|os\.environ\.setdefault|env_flag)\(\s*[\"']([A-Z0-9_]+)[\"']"
    subscripts = re.findall(r"os\.environ\[\s*[\"']([A-Z0-9_]+)[\"']", source)
    return set(re.findall(pattern, source)) | set(subscripts)


def app_service(compose: Compose) -> dict:
    """The service that runs the web app: the one whose command starts uvicorn (else the one named app)."""
    services = compose.get("services") or {}
    for service in services.values():
        if "uvicorn" in command_words(service):
            return service
    return services.get("app") or {}


def db_service_name(compose: Compose) -> str | None:
    for name, service in (compose.get("services") or {}).items():
        if str(service.get("image", "")).startswith("postgis/postgis"):
            return name
    return None


def command_words(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command]


def app_environment(compose: Compose) -> dict[str, str]:
    env = app_service(compose).get("environment") or {}
    if isinstance(env, list):  # the "KEY=value" list form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def resolved_app_environment(compose: Compose) -> dict[str, str]:
    return {k: interpolate(v, HOST_ENV) for k, v in app_environment(compose).items()}


# --- the checks -------------------------------------------------------------------------------------


def check_env_names_are_read(compose: Compose) -> list[str]:
    """Every ONENET_* / DATABASE_URL the app service sets is a variable the settings read (no typos)."""
    read = settings_env_names()
    return [
        f"{name} is set in docker-compose.yml but gisapp/settings.py never reads it"
        for name in app_environment(compose)
        if (name.startswith("ONENET_") or name == "DATABASE_URL") and name not in read
    ]


def check_required_env(compose: Compose) -> list[str]:
    env = app_environment(compose)
    problems = [
        f"{name} is missing from the app service's environment" for name in REQUIRED_ENV if name not in env
    ]
    if env.get("ONENET_DEMO", "").strip().lower() not in FALSE_VALUES:
        problems.append("ONENET_DEMO must be 0 in a production deployment (demo accounts would log in)")
    if env.get("ONENET_DEBUG", "0").strip().lower() not in FALSE_VALUES:
        problems.append("ONENET_DEBUG must be off in a production deployment")
    secret = env.get("ONENET_SECRET_KEY", "")
    if secret and not secret.startswith("${"):
        problems.append("ONENET_SECRET_KEY is written into docker-compose.yml; take it from the environment")
    return problems


def check_uvicorn_command(compose: Compose) -> list[str]:
    words = command_words(app_service(compose))
    problems = []
    # `uvicorn …` or `python -m uvicorn …`
    if not (words and (Path(words[0]).name == "uvicorn" or words[1:3] == ["-m", "uvicorn"])):
        problems.append(f"the app command does not run uvicorn: {words}")
    if "gisapp.asgi:application" not in words:
        problems.append("the app command does not serve gisapp.asgi:application")
    return problems


def check_database_url(compose: Compose) -> list[str]:
    url = resolved_app_environment(compose).get("DATABASE_URL", "")
    parts = urlsplit(url)
    db_name = db_service_name(compose)
    problems = []
    if parts.scheme not in {"postgres", "postgresql", "postgis"}:
        problems.append(f"DATABASE_URL is not a PostgreSQL URL: {parts.scheme!r}")
    if db_name is None or parts.hostname != db_name:
        problems.append(f"DATABASE_URL's host {parts.hostname!r} is not the PostGIS service {db_name!r}")
    db_env = (compose.get("services") or {}).get(db_name or "", {}).get("environment") or {}
    if db_env.get("POSTGRES_DB") and parts.path.lstrip("/") != db_env["POSTGRES_DB"]:
        problems.append("DATABASE_URL names another database than the PostGIS service creates (POSTGRES_DB)")
    if db_env.get("POSTGRES_USER") and parts.username != db_env["POSTGRES_USER"]:
        problems.append("DATABASE_URL's user is not the PostGIS service's POSTGRES_USER")
    return problems


def check_postgis_image(compose: Compose) -> list[str]:
    name = db_service_name(compose)
    if name is None:
        return ["no service runs the postgis/postgis image"]
    image = compose["services"][name]["image"]
    if not re.fullmatch(r"postgis/postgis:15-3\.\d+(?:\.\d+)?", image):
        return [f"the database image {image!r} is not PostGIS 3.x on PostgreSQL 15 (postgis/postgis:15-3.x)"]
    return []


def check_database_volume(compose: Compose) -> list[str]:
    name = db_service_name(compose)
    service = (compose.get("services") or {}).get(name or "", {})
    declared = set((compose.get("volumes") or {}).keys())
    for volume in service.get("volumes") or []:
        source, _, target = str(volume).partition(":")
        if target.split(":")[0] == "/var/lib/postgresql/data" and source in declared:
            return []
    return ["the database's data directory is not on a named volume (it would vanish with the container)"]


def check_database_locale(compose: Compose) -> list[str]:
    name = db_service_name(compose)
    env = (compose.get("services") or {}).get(name or "", {}).get("environment") or {}
    if "UTF-8" not in str(env.get("POSTGRES_INITDB_ARGS", "")):
        return ["the database is not initialised with a UTF-8 locale (pg_trgm cannot read Chinese under C)"]
    return []


def check_healthcheck(compose: Compose) -> list[str]:
    health = app_service(compose).get("healthcheck") or {}
    test = health.get("test")
    text = " ".join(test) if isinstance(test, list) else str(test or "")
    urls = re.findall(r"https?://[^\s'\"]+", text)
    if not urls or not any(urlsplit(u).path == "/healthz" for u in urls):
        return [f"the app's healthcheck does not request /healthz: {text!r}"]
    problems = []
    allowed = resolved_app_environment(compose).get("ONENET_ALLOWED_HOSTS", "").split(",")
    for host in {urlsplit(url).hostname for url in urls}:
        if host not in allowed:
            problems.append(f"the healthcheck's host {host} is not in ONENET_ALLOWED_HOSTS (→ 400)")
    return problems


CHECKS: dict[str, tuple[Check, Callable[[Compose], None]]] = {}


def _breaks(check: Check):
    """Register `check` with a mutation of the compose file that it must catch."""

    def register(mutate: Callable[[Compose], None]) -> Callable[[Compose], None]:
        CHECKS[check.__name__] = (check, mutate)
        return mutate

    return register


@_breaks(check_env_names_are_read)
def _typo_in_env_name(c: Compose) -> None:
    app_service(c)["environment"]["ONENET_SECRETKEY"] = "${ONENET_SECRET_KEY}"


@_breaks(check_required_env)
def _demo_on(c: Compose) -> None:
    app_service(c)["environment"]["ONENET_DEMO"] = "1"


@_breaks(check_uvicorn_command)
def _gunicorn(c: Compose) -> None:
    app_service(c)["command"] = "gunicorn gisapp.wsgi:application"


@_breaks(check_database_url)
def _localhost_db(c: Compose) -> None:
    env = app_service(c)["environment"]
    env["DATABASE_URL"] = env["DATABASE_URL"].replace("@db:", "@localhost:")


@_breaks(check_postgis_image)
def _old_postgis(c: Compose) -> None:
    c["services"][db_service_name(c)]["image"] = "postgis/postgis:13-3.1"


@_breaks(check_database_volume)
def _no_volume(c: Compose) -> None:
    c["services"][db_service_name(c)].pop("volumes", None)


@_breaks(check_database_locale)
def _c_locale(c: Compose) -> None:
    c["services"][db_service_name(c)]["environment"]["POSTGRES_INITDB_ARGS"] = "--locale=C"


@_breaks(check_healthcheck)
def _health_root(c: Compose) -> None:
    app_service(c)["healthcheck"]["test"] = ["CMD", "curl", "-f", "http://127.0.0.1:8000/"]


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_compose_passes(name: str) -> None:
    check, _ = CHECKS[name]
    assert check(load_compose()) == []


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_catches_a_broken_compose(name: str) -> None:
    check, mutate = CHECKS[name]
    broken = copy.deepcopy(load_compose())
    mutate(broken)
    assert check(broken), f"{name} did not notice the broken compose file"


def test_settings_env_names_found() -> None:
    # The grep the first check relies on must see the variables the settings really read.
    assert set(REQUIRED_ENV) <= settings_env_names()


def test_interpolation_requires_secrets() -> None:
    env = app_environment(load_compose())
    with pytest.raises(ValueError):
        interpolate(env["ONENET_SECRET_KEY"], {})
    assert interpolate("a${X:-b}c$$", {}) == "abc$"


def test_settings_load_with_the_compose_environment() -> None:
    """The real settings module, imported with the app service's environment, ends up where compose says."""
    env = {k: v for k, v in os.environ.items() if not (k.startswith("ONENET_") or k == "DATABASE_URL")}
    env.update(resolved_app_environment(load_compose()))
    env["DJANGO_SETTINGS_MODULE"] = "gisapp.settings"
    code = (
        "import json; from django.conf import settings as s; db = s.DATABASES['default'];"
        "print(json.dumps({'host': db['HOST'], 'port': db['PORT'], 'engine': db['ENGINE'],"
        " 'demo': s.DEMO_MODE, 'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'asgi': s.ASGI_APPLICATION}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert loaded["host"] == db_service_name(load_compose())
    assert loaded["engine"] == "django.contrib.gis.db.backends.postgis"
    assert loaded["demo"] is False and loaded["debug"] is False
    assert "127.0.0.1" in loaded["hosts"] and "gis.example" in loaded["hosts"]
    assert loaded["asgi"] == "gisapp.asgi.application"


def test_uvicorn_target_exists() -> None:
    """The compose command's target is a real ASGI callable (imported, not just named in the source)."""
    import inspect

    from gisapp import asgi

    assert callable(asgi.application)
    target = asgi.application
    assert inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(type(target).__call__)


def test_dockerfile_base_and_gis_libraries() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert bases and bases[-1] == "python:3.11-slim-bookworm", bases
    for package in ("libgdal32", "libgeos-c1v5", "libproj25"):
        assert re.search(rf"apt-get install[^\n]*(?:\\\n[^\n]*)*\b{re.escape(package)}\b", text), package
    # The image the compose file runs is the one this Dockerfile builds.
    compose = load_compose()
    assert app_service(compose).get("build") in (".", {"context": "."})
