"""The two map pages; everything they show comes from the JSON APIs, so the views only hand over config.

The pages are shells: a MapLibre map and panels built by the bundles in frontend/src (see
frontend/assets.py for how the built files are found).  Config goes into the page as JSON
(`json_script`), never interpolated into JavaScript.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from gisapp.accounts.jurisdiction import jurisdiction_of
from layers.models import Net

from .api import root_unit
from .assets import entry_files


def _nets() -> list[dict]:
    return [
        {"code": n.code, "name": n.name, "name_en": n.name_en, "follows_communities": n.follows_communities}
        for n in Net.objects.order_by("ordering", "code")
    ]


def _config(request: HttpRequest, page: str) -> dict:
    root = root_unit()
    return {
        "page": page,
        "styleUrl": "/tiles/style.json",
        "workerUrl": static("vendor/maplibre-gl/maplibre-gl-worker.mjs"),
        "nets": _nets(),
        "root": root.code if root else None,
    }


def public_map(request: HttpRequest) -> HttpResponse:
    """/ — the residents' map, phone first: stations, grids, Where am I?, report a problem."""
    return render(request, "frontend/public.html", {"config": _config(request, "public")})


@login_required
@ensure_csrf_cookie  # the page POSTs transitions with the session: it needs the CSRF cookie
def dispatch(request: HttpRequest) -> HttpResponse:
    """/dispatch/ — the command centre's big screen (1920×1080 to 3840×2160)."""
    config = _config(request, "dispatch")
    j = jurisdiction_of(request.user)
    profile = getattr(request.user, "profile", None)
    config["user"] = {
        "username": request.user.get_username(),
        "role": profile.role if profile else ("admin" if request.user.is_superuser else ""),
        "jurisdiction": "" if j.everything else (j.prefix or None),
        "department": j.department_id,
    }
    return render(request, "frontend/dispatch.html", {"config": config})


@login_required
@ensure_csrf_cookie  # every edit is a POST with the session
def planner(request: HttpRequest) -> HttpResponse:
    """/planner/ — the grid planner's boundary editor (desktop): drafts, edits, validation, impact,
    publish, history.  Planners and administrators only, like the boundary API it drives."""
    from boundaries.drafts import may_plan
    from layers.models import AdminUnit, GridKind

    if not may_plan(request.user):
        raise PermissionDenied
    config = _config(request, "planner")
    j = jurisdiction_of(request.user)
    units = AdminUnit.objects.defer("geom", "geom_3857")
    home = units.filter(code=j.prefix).first() if j.prefix else None
    home = home or units.filter(level="district").order_by("code").first()
    config["user"] = {"username": request.user.get_username(), "jurisdiction": j.prefix or ""}
    config["home"] = {"code": home.code, "name": home.name, "level": home.level} if home else None
    config["groups"] = {n.code: n.partition_group for n in Net.objects.all()}
    # Kinds a drawn grid may have (police and mediation grids belong to their own nets).
    config["kinds"] = [k.value for k in GridKind if k not in (GridKind.POLICE, GridKind.MEDIATION)]
    return render(request, "frontend/planner.html", {"config": config})


@login_required
@ensure_csrf_cookie  # check-ins, reports and transitions are POSTs with the session
def field(request: HttpRequest) -> HttpResponse:
    """/field/ — the grid worker's phone page: my grid, my cases, check-in, patrol, reports, offline."""
    config = _config(request, "field")
    config["swUrl"] = reverse("field-sw")
    config["swScope"] = reverse("field")
    return render(request, "frontend/field.html", {"config": config})


FIELD_ENTRY = "src/field/main.js"
FIELD_SW_SOURCE = Path(__file__).resolve().parent / "src" / "field" / "sw.js"


def field_sw(request: HttpRequest) -> HttpResponse:
    """/field/sw.js — the field page's service worker, from a URL under /field/ so that its scope covers
    the page, never hashed (browsers look for updates at the same URL).  Its list of files to keep comes
    from the build manifest; the version changes with any of them or with the worker's own source."""
    urls = [
        reverse("field"),
        *(static(f) for f in entry_files(FIELD_ENTRY)),
        static("vendor/maplibre-gl/maplibre-gl-worker.mjs"),
        "/tiles/style.json",
    ]
    source = FIELD_SW_SOURCE.read_text(encoding="utf-8")
    version = hashlib.sha256("\n".join([*urls, source]).encode()).hexdigest()[:16]
    head = f"self.FIELD_SW = {json.dumps({'version': version, 'precache': urls})};\n"
    response = HttpResponse(head + source, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
