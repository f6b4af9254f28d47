"""The two map pages; everything they show comes from the JSON APIs, so the views only hand over config.

The pages are shells: a MapLibre map and panels built by the bundles in frontend/src (see
frontend/assets.py for how the built files are found).  Config goes into the page as JSON
(`json_script`), never interpolated into JavaScript.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.csrf import ensure_csrf_cookie

from gisapp.accounts.jurisdiction import jurisdiction_of
from layers.models import Net

from .api import root_unit


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
