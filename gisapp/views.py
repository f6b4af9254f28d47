"""Service-wide views: health."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """Database reachable, PostGIS version, and how much of the city is loaded."""
    from cases.models import Case
    from layers.models import AdminUnit, Building, Grid, HouseUnit

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
        return JsonResponse({"status": "error", "database": "unreachable", "error": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", "postgis": postgis, "lc_ctype": ctype, "counts": counts})
