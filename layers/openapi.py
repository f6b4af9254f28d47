"""The field page's API in the project's OpenAPI document (gisapp.openapi merges every app's part).

The OGC API (layers/ogcapi) publishes its own OpenAPI document at /ogcapi/api, as that standard asks.
"""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
LOCATION = {"$ref": "#/components/schemas/Location"}  # the case API's {lon, lat, crs}


def _resp(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {str(c): _resp(ERROR, "refused, with the reason in Chinese and English") for c in codes}


KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "minLength": 8, "maxLength": 100},
    "description": "made by the phone once per check-in / per batch of points; a resend stores nothing twice",
}
AREA = {"name": "area", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,15}$"}}
DATE = {"name": "date", "in": "query", "schema": {"type": "string", "format": "date"}}
TIME = {
    "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number", "description": "epoch ms"}],
}

SCHEMAS = {
    "CheckInCreate": {
        "type": "object",
        "required": ["location"],
        "properties": {
            "location": LOCATION,
            "accuracy": {"type": "number", "minimum": 0, "maximum": 100000, "description": "metres"},
            "note": {"type": "string", "maxLength": 200},
            "device_time": {**TIME, "description": "when the phone took it (within the last 7 days)"},
            "grid_code": {"type": "string", "description": "optional; must be one of the worker's grids"},
        },
        "additionalProperties": False,
    },
    "CheckIn": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "device_time": {"type": "string", "format": "date-time", "nullable": True},
            "lon": {"type": "number"},
            "lat": {"type": "number"},
            "crs": {"type": "string", "enum": ["EPSG:4490"]},
            "accuracy_m": {"type": "number", "nullable": True},
            "grid_code": {"type": "string"},
            "inside": {"type": "boolean", "description": "false: just outside the grid, within accuracy"},
            "note": {"type": "string"},
        },
    },
    "PatrolBatch": {
        "type": "object",
        "required": ["points"],
        "properties": {
            "crs": {"type": "string", "description": "of every point (EPSG:4326, EPSG:4490, GCJ02, BD09 …)"},
            "points": {
                "type": "array",
                "minItems": 1,
                "maxItems": 500,
                "items": {
                    "type": "object",
                    "required": ["lon", "lat", "t"],
                    "properties": {
                        "lon": {"type": "number"},
                        "lat": {"type": "number"},
                        "t": {**TIME, "description": "when the phone took the point"},
                        "accuracy": {"type": "number", "minimum": 0, "maximum": 100000},
                    },
                },
            },
        },
        "additionalProperties": False,
    },
    "Patrol": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "day": {"type": "string", "format": "date"},
            "grid_code": {"type": "string"},
            "point_count": {"type": "integer"},
            "length_m": {"type": "number"},
            "started_at": {"type": "string", "format": "date-time", "nullable": True},
            "ended_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
}

PATHS = {
    "/api/field/me": {
        "get": {
            "summary": "网格员首页 · the worker, their grid(s), open cases nearest first, today's check-ins "
            "and patrol",
            "parameters": [
                {"name": "lon", "in": "query", "schema": {"type": "number"}},
                {"name": "lat", "in": "query", "schema": {"type": "number"}},
                {"name": "crs", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": _resp({"type": "object"}), **_errors(400, 401, 403)},
        }
    },
    "/api/field/checkins": {
        "get": {
            "summary": "考勤打卡记录 · a day's check-ins (a worker's own; others' in your jurisdiction, "
            "names masked)",
            "parameters": [DATE, AREA],
            "responses": {"200": _resp({"type": "object"}), **_errors(400, 401)},
        },
        "post": {
            "summary": "考勤打卡 · check in with the phone's location",
            "parameters": [KEY],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CheckInCreate"}}},
            },
            "responses": {
                "201": _resp({"$ref": "#/components/schemas/CheckIn"}, "stored"),
                "200": _resp({"$ref": "#/components/schemas/CheckIn"}, "the check-in this key already made"),
                **_errors(400, 401, 403, 413, 422),
            },
        },
    },
    "/api/field/patrols/points": {
        "post": {
            "summary": "巡查轨迹上传 · append a batch of sampled track points to the day's patrol",
            "parameters": [KEY],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PatrolBatch"}}},
            },
            "responses": {
                "201": _resp({"type": "object"}, "stored"),
                "200": _resp({"type": "object"}, "this batch was already stored: nothing added"),
                **_errors(400, 401, 403, 413, 422),
            },
        }
    },
    "/api/field/patrols/today": {
        "get": {
            "summary": "今日巡查轨迹 · today's tracks as GeoJSON lines (a worker's own; your jurisdiction's)",
            "parameters": [AREA],
            "responses": {
                "200": {
                    "description": "FeatureCollection with `tracks` and `length_m` totals",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_errors(400, 401),
            },
        }
    },
}
