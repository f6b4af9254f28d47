"""The case loop's part of the project's OpenAPI document (gisapp.openapi merges every app's part)."""

from __future__ import annotations

from .models.case import CaseStatus, Channel, Level, Severity
from .workflow import TRANSITIONS

ERROR = {"$ref": "#/components/schemas/Error"}
CASE = {"$ref": "#/components/schemas/Case"}


def _resp(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {str(c): _resp(ERROR, "refused, with the reason in Chinese and English") for c in codes}


NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 24}}

SCHEMAS = {
    "Location": {
        "type": "object",
        "required": ["lon", "lat"],
        "properties": {
            "lon": {"type": "number"},
            "lat": {"type": "number"},
            "crs": {
                "type": "string",
                "example": "GCJ02",
                "description": "EPSG:4490 (default), EPSG:4326, EPSG:3857, EPSG:4534–4554, GCJ02, BD09",
            },
        },
    },
    "CaseCreate": {
        "type": "object",
        "required": ["category"],
        "properties": {
            "category": {"type": "string", "description": "an item code of the category dictionary"},
            "description": {"type": "string", "maxLength": 2000},
            "location": {"$ref": "#/components/schemas/Location"},
            "address": {"type": "string", "maxLength": 160},
            "contact": {"type": "string", "maxLength": 64},
            "channel": {"type": "string", "enum": Channel.values},
        },
    },
    "Case": {
        "type": "object",
        "properties": {
            "number": {"type": "string"},
            "status": {"type": "string", "enum": CaseStatus.values},
            "category": {"type": "string"},
            "severity": {"type": "string", "enum": Severity.values},
            "lon": {"type": "number", "nullable": True},
            "lat": {"type": "number", "nullable": True},
            "building_id": {"type": "integer", "nullable": True},
            "grid_code": {"type": "string", "nullable": True},
            "grids": {"type": "object", "additionalProperties": {"type": "string"}},
            "assignee": {
                "type": "object",
                "properties": {
                    "level": {"type": "string", "enum": Level.values, "nullable": True},
                    "code": {"type": "string", "nullable": True},
                    "department": {"type": "string", "nullable": True},
                },
            },
            "deadline": {"type": "string", "format": "date-time", "nullable": True},
            "light": {"type": "string", "enum": ["green", "yellow", "red"], "nullable": True},
            "needs_placement": {"type": "boolean"},
            "version": {"type": "integer"},
            "trail": {"type": "array", "items": {"type": "object"}},
        },
    },
    "TransitionRequest": {
        "type": "object",
        "required": ["transition"],
        "properties": {
            "transition": {"type": "string", "enum": sorted(TRANSITIONS)},
            "version": {"type": "integer", "description": "the version you saw; 409 if the case moved on"},
            "reason": {"type": "string"},
            "comment": {"type": "string"},
            "result": {"type": "string"},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "hours": {"type": "number"},
            "into": {"type": "string"},
            "location": {"$ref": "#/components/schemas/Location"},
            "assignee": {
                "type": "object",
                "properties": {
                    "level": {"type": "string", "enum": Level.values},
                    "department": {"type": "string"},
                },
            },
            "attachments": {"type": "array", "items": {"type": "integer"}},
        },
    },
}

LIST_PARAMS = [
    {
        "name": "status",
        "in": "query",
        "schema": {"type": "string"},
        "description": "comma-separated statuses",
    },
    {"name": "category", "in": "query", "schema": {"type": "string"}},
    {"name": "light", "in": "query", "schema": {"type": "string", "enum": ["green", "yellow", "red"]}},
    {"name": "area", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,15}$"}},
    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "needs_placement", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}},
    {"name": "channel", "in": "query", "schema": {"type": "string", "enum": Channel.values}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
]

PATHS = {
    "/api/cases": {
        "get": {
            "summary": "案件列表 · cases in your jurisdiction",
            "parameters": LIST_PARAMS,
            "responses": {"200": _resp({"type": "object"}), **_errors(400, 401)},
        },
        "post": {
            "summary": "上报案件 · report a case",
            "parameters": [
                {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 100}}
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CaseCreate"}}},
            },
            "responses": {
                "201": _resp(CASE, "created"),
                "200": _resp(CASE, "the case this key already made"),
                **_errors(400, 401, 413, 422),
            },
        },
    },
    "/api/cases/{number}": {
        "get": {
            "summary": "案件详情 · one case with its trail",
            "parameters": [NUMBER],
            "responses": {"200": _resp(CASE), **_errors(401, 404)},
        },
    },
    "/api/cases/{number}/transitions": {
        "post": {
            "summary": "办理 · make a transition of the loop",
            "parameters": [NUMBER],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/TransitionRequest"}}
                },
            },
            "responses": {"200": _resp(CASE), **_errors(400, 401, 403, 404, 409, 422)},
        },
    },
    "/api/cases/overdue": {
        "get": {
            "summary": "超期案件 · overdue cases",
            "parameters": [
                {"name": "area", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer"}},
            ],
            "responses": {"200": _resp({"type": "object"}), **_errors(400, 401)},
        },
    },
    "/api/cases/stats": {
        "get": {
            "summary": "考核评价 · evaluation and rankings",
            "parameters": [
                {
                    "name": "group",
                    "in": "query",
                    "schema": {
                        "type": "string",
                        "enum": ["grid", "community", "street", "district", "department"],
                    },
                },
                {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                {
                    "name": "format",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["json", "csv", "xlsx"]},
                },
            ],
            "responses": {"200": _resp({"type": "object"}), **_errors(400, 401)},
        },
    },
}
