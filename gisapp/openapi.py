"""The project's OpenAPI 3.0 document at /api/openapi.json: every app contributes its own part.

An app that serves a JSON API adds a module `<app>.openapi` with PATHS (and optionally SCHEMAS); this
module merges them, so the document grows with the code and the hardening fuzzers read one schema.
"""

from __future__ import annotations

from importlib import import_module

CONTRIBUTORS = [
    "cases.openapi",
]

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "code": {"type": "integer"},
        "error": {"type": "object", "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}},
    },
}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a key the client makes once per intended create: a retry with the same key (and body) "
    "answers what the first request did instead of doing it again",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[ -~]+$"},
}


def _with_limits(paths: dict) -> dict:
    """Answers any operation may give besides its own: 503 when the database is busy or a statement ran
    past its timeout, 413 for a body over the size limit, 400 for a NUL character anywhere (gisapp.limits),
    403 for a session request without its CSRF token on an unsafe method (gisapp.views.csrf_failure)."""
    error = {
        "description": "refused, with the reason in Chinese and English",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for item in paths.values():
        for method, op in item.items():
            op["responses"].setdefault("503", error)
            op["responses"].setdefault("400", error)
            if "requestBody" in op:
                op["responses"].setdefault("413", error)
            if method in ("post", "put", "patch", "delete"):
                op["responses"].setdefault("403", error)
    return paths


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
        "paths": _with_limits(paths),
        "components": {
            "schemas": schemas,
            "parameters": {"IdempotencyKey": IDEMPOTENCY_KEY},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
    }


def _as_31(node):
    """OpenAPI 3.0's `nullable` in the 3.1 form (a "null" type), for the written parts merged below."""
    if isinstance(node, list):
        return [_as_31(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _as_31(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def merge_into(doc: dict) -> None:
    """Add the operations still written out by hand to ninja's generated document (gisapp.api)."""
    written = _as_31(document())
    for path, item in written["paths"].items():
        declared = doc["paths"].setdefault(path, {})
        for method, operation in item.items():
            declared.setdefault(method, operation)  # a declared operation wins over its written one
    components = doc.setdefault("components", {})
    for section in ("schemas", "parameters", "securitySchemes"):
        merged = {**written["components"].get(section, {}), **components.get(section, {})}
        components[section] = merged
