"""The map pages' JSON endpoints in the OpenAPI document (gisapp.openapi merges every app's part)."""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
AREA = {
    "name": "area",
    "in": "query",
    "schema": {"type": "string", "pattern": "^[0-9]{1,15}$"},
    "description": "an admin-unit or grid code inside your jurisdiction (default: all of it)",
}
CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9A-Za-z]{2,24}$"},
}
NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 24}}
AREA_DOC = {
    "type": "object",
    "required": ["code", "name", "level", "chain", "children"],
    "properties": {
        "code": {"type": "string"},
        "name": {"type": "string"},
        "level": {"type": "string"},
        "chain": {"type": "array", "items": {"type": "object"}},
        "children": {"type": "array", "items": {"type": "object"}},
        "bbox": {"type": "array", "items": {"type": "number"}, "nullable": True},
        "populated_bbox": {
            "type": "array",
            "items": {"type": "number"},
            "nullable": True,
            "description": "admin units: the middle 90 % of inhabited buildings, where a map should start",
        },
        "geometry": {"type": "object", "nullable": True},
    },
}


def _resp(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {str(c): _resp(ERROR, "refused, with the reason in Chinese and English") for c in codes}


def _get(summary: str, params: list, ok: dict, *codes: int, security: list | None = None) -> dict:
    op = {"summary": summary, "parameters": params, "responses": {"200": ok, **_errors(*codes)}}
    if security is not None:
        op["security"] = security
    return {"get": op}


HTML = {"description": "a standalone HTML map", "content": {"text/html": {"schema": {"type": "string"}}}}

PATHS = {
    "/api/map/areas/": _get("下钻 · the root admin unit", [], _resp(AREA_DOC), 404, security=[]),
    "/api/map/areas/{code}": _get(
        "下钻 · an admin unit or current grid: chain, children, outline",
        [CODE],
        _resp(AREA_DOC),
        400,
        404,
        security=[],
    ),
    "/api/map/cases.geojson": _get(
        "在办案件 · open placed cases with their light (GeoJSON)",
        [AREA],
        _resp({"type": "object", "required": ["type", "features"]}),
        400,
        401,
        403,
    ),
    "/api/map/indicators/people": _get(
        "人房指标 · counts of buildings, households, residents, special groups",
        [AREA],
        _resp({"type": "object", "required": ["area"]}),
        400,
        401,
        403,
    ),
    "/api/map/indicators/events": _get(
        "事件指标 · cases today, this month, by category and light, rates, trend",
        [AREA],
        _resp({"type": "object", "required": ["area"]}),
        400,
        401,
        403,
    ),
    "/api/map/indicators/operations": _get(
        "运行指标 · grid workers, grids, stations, open and overdue cases",
        [AREA],
        _resp({"type": "object", "required": ["area"]}),
        400,
        401,
        403,
    ),
    "/api/map/cases/{number}/suggestion": _get(
        "派遣建议 · who should act on a case", [NUMBER], _resp({"type": "object"}), 401, 404
    ),
    "/api/map/departments": _get(
        "职能部门 · departments", [], _resp({"type": "object", "required": ["departments"]}), 401
    ),
    "/api/map/categories": _get(
        "案件类别 · the category dictionary", [], _resp({"type": "object", "required": ["categories"]}), 401
    ),
    "/api/map/export/grid/{code}.html": _get(
        "态势图 · a grid's situation map", [CODE], HTML, 400, 401, 403, 404
    ),
    "/api/map/export/case/{number}.html": _get(
        "态势图 · a case's situation map", [NUMBER], HTML, 401, 404, 409
    ),
    "/api/public/nearby": _get(
        "我在哪 · grid, community, published grid-worker contacts and nearest stations (CGCS2000)",
        [
            {
                "name": "lon",
                "in": "query",
                "required": True,
                "schema": {"type": "number", "minimum": -180, "maximum": 180},
            },
            {
                "name": "lat",
                "in": "query",
                "required": True,
                "schema": {"type": "number", "minimum": -90, "maximum": 90},
            },
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 20}},
            {"name": "grid", "in": "query", "schema": {"type": "string", "pattern": "^[0-9A-Za-z]{2,24}$"}},
        ],
        _resp({"type": "object", "required": ["lon", "lat", "stations"]}),
        400,
        429,
        security=[],
    ),
}
