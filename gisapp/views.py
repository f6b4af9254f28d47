"""Service-wide views: health."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """Database reachable, PostGIS version, and how much of the city is loaded (models looked up by name:
    the project's bottom room imports none of the rooms it counts)."""
    from django.apps import apps

    AdminUnit, Building, Grid, HouseUnit = (
        apps.get_model("layers", name) for name in ("AdminUnit", "Building", "Grid", "HouseUnit")
    )
    Case = apps.get_model("cases", "Case")
    try:
        with connection.cursor() as cur:
            cur.execute("select postgis_lib_version(), current_setting('lc_ctype')")
            postgis, ctype = cur.fetchone()
        counts = {
            "admin_units": AdminUnit.objects.count(),
            "grids": Grid.objects.current().count(),
            "buildings": Building.objects.count(),
            "house_units": HouseUnit.objects.count(),
            "cases": Case.objects.count(),
        }
    except Exception as exc:  # noqa: BLE001 - health must answer, not crash
        return JsonResponse(
            {"status": "error", "database": "unreachable", "error": type(exc).__name__}, status=503
        )
    return JsonResponse(
        {"status": "ok", "database": "ok", "postgis": postgis, "lc_ctype": ctype, "counts": counts}
    )


def favicon(request):
    """No icon: pages that name none (the admin, Django's forms) make browsers ask for /favicon.ico, and a
    404 there is a console error on every such page."""
    from django.http import HttpResponse

    response = HttpResponse(status=204)
    response["Cache-Control"] = "public, max-age=86400"
    return response


API_PREFIXES = ("/api/", "/ogcapi/", "/tiles/")


def error_json(status: int, zh: str, en: str, **extra) -> JsonResponse:
    """The one shape of every API error: a code, a reason in Chinese and English, and any extra fields
    (a hint, the current version …) that are not None."""
    body = {"code": status, "error": {"zh": zh, "en": en}}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def csrf_failure(request, reason: str = ""):
    """A session request without its CSRF token: the API's JSON 403, Django's page elsewhere."""
    if request.path.startswith(API_PREFIXES):
        return error_json(
            403,
            "CSRF 校验失败：会话请求须带 CSRF 令牌（或改用 Bearer 令牌）",
            "CSRF check failed: session requests need the CSRF token (or use a bearer token)",
        )
    from django.views.csrf import csrf_failure as default

    return default(request, reason)


def not_found(request, exception=None):
    if request.path.startswith(API_PREFIXES):
        return error_json(404, "未找到该资源", f"not found: {request.path}")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(API_PREFIXES):
        return error_json(500, "服务器内部错误", "internal server error")
    from django.views.defaults import server_error as default

    return default(request)
