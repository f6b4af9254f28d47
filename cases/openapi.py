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

PATHS: dict = {}  # the case API itself is declared in cases/api.py

# -- attachments, campaigns, the public map's reports, live updates and Open311 ------------------------
PK = {"name": "pk", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
FMT = {"name": "fmt", "in": "path", "required": True, "schema": {"type": "string", "enum": ["json", "xml"]}}
IDEMPOTENCY_KEY = {"$ref": "#/components/parameters/IdempotencyKey"}
RECEIPT = {
    "type": "object",
    "required": ["number", "status"],
    "properties": {
        "number": {"type": "string"},
        "category": {"type": "string"},
        "category_name": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "status_label": {"type": "object"},
        "reported_at": {"type": "string", "format": "date-time"},
        "closed_at": {"type": "string", "format": "date-time", "nullable": True},
        "placed": {"type": "boolean"},
        "message": {"type": "object"},
    },
}
CAMPAIGN = {
    "type": "object",
    "required": ["id", "name", "area_code", "checklist"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "area_code": {"type": "string"},
        "checklist": {"type": "array", "items": {"type": "string"}},
        "grids": {"type": "integer"},
        "progress": {"type": "number"},
    },
}
# Open311 answers in the format the path names: a JSON array or an XML document (GeoReport v2).
OPEN311_ROWS = {
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    "text/xml": {"schema": {"type": "string"}},
}
# Errors come as a GeoReport v2 error list in the path's format; a path naming no format (requests.txt)
# has none to answer in and gets the API's own JSON error.
OPEN311_ERRORS = {
    str(c): {
        "description": "GeoReport v2 error list, or the API's error for an unknown format",
        "content": {
            "application/json": {
                "schema": {"oneOf": [{"type": "array", "items": {"type": "object"}}, ERROR]}
            },
            "text/xml": {"schema": {"type": "string"}},
        },
    }
    for c in (400, 403, 404, 405, 422, 429)
}


def _media(media: str, description: str = "OK") -> dict:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


PATHS.update(
    {
        "/api/cases/stream": {
            "get": {
                "summary": "实时推送 · new and changed cases of your jurisdiction (Server-Sent Events)",
                "responses": {
                    "200": _media("text/event-stream", "an endless event stream"),
                    **_errors(401, 429),
                },
            }
        },
        "/open311/v2/services.{fmt}": {
            "get": {
                "summary": "Open311 services (our category items)",
                "security": [],
                "parameters": [FMT],
                "responses": {"200": {"description": "services", "content": OPEN311_ROWS}, **_errors(404)},
            }
        },
        "/open311/v2/requests.{fmt}": {
            "get": {
                "summary": "Open311 requests (public channels only without an api_key)",
                "security": [],
                "parameters": [
                    FMT,
                    {
                        "name": "api_key",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "an unknown key reads like no key: public channels only",
                    },
                    {"name": "service_request_id", "in": "query", "schema": {"type": "string"}},
                    {"name": "service_code", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["open", "closed"]},
                    },
                    {
                        "name": "start_date",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {"name": "end_date", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                ],
                "responses": {"200": {"description": "requests", "content": OPEN311_ROWS}, **OPEN311_ERRORS},
            },
            "post": {
                "summary": "Open311 file a request (needs an api_key)",
                "security": [],
                "parameters": [FMT, IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["api_key", "service_code"],
                                "properties": {
                                    "api_key": {"type": "string", "maxLength": 200},
                                    "service_code": {"type": "string"},
                                    "description": {"type": "string", "maxLength": 2000},
                                    "lat": {"type": "number"},
                                    "long": {"type": "number"},
                                    "address_string": {"type": "string", "maxLength": 160},
                                    "phone": {"type": "string", "maxLength": 64},
                                    "email": {"type": "string", "maxLength": 64},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {"description": "filed", "content": OPEN311_ROWS},
                    "200": {"description": "the request this key already filed", "content": OPEN311_ROWS},
                    **OPEN311_ERRORS,
                },
            },
        },
        "/open311/v2/requests/{number}.{fmt}": {
            "get": {
                "summary": "Open311 one request",
                "security": [],
                "parameters": [NUMBER, FMT],
                "responses": {
                    "200": {"description": "the request", "content": OPEN311_ROWS},
                    **OPEN311_ERRORS,
                },
            }
        },
    }
)
