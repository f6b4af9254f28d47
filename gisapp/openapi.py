"""The project's OpenAPI 3.0 document at /api/openapi.json: every app contributes its own part.

An app that serves a JSON API adds a module `<app>.openapi` with PATHS (and optionally SCHEMAS); this
module merges them, so the document grows with the code and the hardening fuzzers read one schema.
"""

from __future__ import annotations

from importlib import import_module

from django.http import JsonResponse

CONTRIBUTORS = ["gisapp.accounts.openapi", "cases.openapi", "geocoding.openapi", "boundaries.openapi"]

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "code": {"type": "integer"},
        "error": {"type": "object", "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}},
    },
}


def document() -> dict:
    paths: dict = {}
    schemas: dict = {"Error": ERROR_SCHEMA}
    for name in CONTRIBUTORS:
        try:
            module = import_module(name)
        except ModuleNotFoundError:
            continue
        paths.update(getattr(module, "PATHS", {}))
        schemas.update(getattr(module, "SCHEMAS", {}))
    return {
        "openapi": "3.0.3",
        "info": {"title": "one-net map API · 一网统管电子地图接口", "version": "1"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
    }


def openapi_json(request):
    return JsonResponse(document(), json_dumps_params={"ensure_ascii": False})
