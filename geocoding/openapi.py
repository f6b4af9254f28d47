"""The geocoder's part of the project's OpenAPI document (gisapp.openapi merges every app's part)."""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
CRS = {
    "name": "crs",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "default": "EPSG:4490", "maxLength": 80},
    "description": "EPSG:4490 (default), EPSG:4326, EPSG:3857, EPSG:4491–4554 (CGCS2000 Gauss-Kruger), "
    "GCJ02, BD09",
}
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}


def _resp(schema: dict, description: str = "OK", media: str = "application/json") -> dict:
    return {"description": description, "content": {media: {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {str(c): _resp(ERROR, "refused, with the reason in Chinese and English") for c in codes}


ADMIN_REF = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
}
SCHEMAS = {
    "GeocodeCandidate": {
        "type": "object",
        "properties": {
            "building_id": {"type": "integer", "nullable": True},
            "address": {"type": "string"},
            "lon": {"type": "number"},
            "lat": {"type": "number"},
            "crs": {"type": "string"},
            "level": {
                "type": "string",
                "enum": ["room", "building", "door", "road", "community", "street", "district", "city"],
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "grid_code": {"type": "string", "nullable": True},
            "grids": {"type": "object", "additionalProperties": {"type": "string"}},
            "admin": {"type": "object", "additionalProperties": ADMIN_REF},
            "matched": {"type": "object"},
            "unit": {"type": "integer"},
            "room": {"type": "string"},
            "explain": {"type": "object", "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}},
        },
    },
    "GeocodeResult": {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "normalized": {"type": "string"},
            "crs": {"type": "string"},
            "candidates": {"type": "array", "items": {"$ref": "#/components/schemas/GeocodeCandidate"}},
            "reason": {"type": "object"},
        },
    },
    "GeocodeJob": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": ["queued", "running", "done", "failed", "cancelled"]},
            "total": {"type": "integer"},
            "done": {"type": "integer"},
            "matched": {"type": "integer"},
            "failed": {"type": "integer"},
            "progress": {"type": "number"},
            "links": {"type": "object"},
        },
    },
}

PATHS = {
    "/api/geocode": {
        "get": {
            "summary": "地址 → 楼栋与网格 / address → building and grids",
            "tags": ["geocoding"],
            "parameters": [
                {
                    "name": "q",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "maxLength": 200},
                },
                CRS,
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10}},
            ],
            "responses": {
                "200": _resp({"$ref": "#/components/schemas/GeocodeResult"}),
                **_errors(400, 405, 429),
            },
        }
    },
    "/api/reverse": {
        "get": {
            "summary": "坐标 → 网格、行政区划、最近标准地址 / point → grids, admin chain, nearest address",
            "tags": ["geocoding"],
            "parameters": [
                {"name": "lon", "in": "query", "required": True, "schema": {"type": "number"}},
                {"name": "lat", "in": "query", "required": True, "schema": {"type": "number"}},
                CRS,
            ],
            "responses": {"200": _resp({"type": "object"}), **_errors(400, 404, 405, 429)},
        }
    },
    "/api/geocode/batch": {
        "post": {
            "summary": "批量地理编码（CSV 或 JSON）/ batch geocoding (CSV or JSON)",
            "tags": ["geocoding"],
            "parameters": [CRS, {"name": "column", "in": "query", "schema": {"type": "string"}}],
            "requestBody": {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "array", "items": {"type": "string"}}},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    },
                }
            },
            "responses": {
                "202": _resp(
                    {"type": "object", "properties": {"job": {"$ref": "#/components/schemas/GeocodeJob"}}}
                ),
                **_errors(400, 401, 403, 413),
            },
        }
    },
    "/api/geocode/batch/{job_id}": {
        "get": {
            "summary": "任务进度 / job progress",
            "tags": ["geocoding"],
            "parameters": [JOB_ID],
            "responses": {
                "200": _resp(
                    {"type": "object", "properties": {"job": {"$ref": "#/components/schemas/GeocodeJob"}}}
                ),
                **_errors(401, 404),
            },
        },
        "delete": {
            "summary": "取消并删除任务 / cancel and delete the job",
            "tags": ["geocoding"],
            "parameters": [JOB_ID],
            "responses": {"200": _resp({"type": "object"}), **_errors(401, 403, 404)},
        },
    },
    "/api/geocode/batch/{job_id}/result.csv": {
        "get": {
            "summary": "结果 CSV，每个输入行一行 / results, one row per input row",
            "tags": ["geocoding"],
            "parameters": [JOB_ID],
            "responses": {"200": _resp({"type": "string"}, media="text/csv"), **_errors(401, 404, 409)},
        }
    },
}
