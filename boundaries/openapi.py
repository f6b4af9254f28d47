"""The boundary-draft API's part of the OpenAPI document (gisapp.openapi merges every app's part)."""

from __future__ import annotations

from .operations import OPS

ERROR = {"$ref": "#/components/schemas/Error"}
DRAFT_ID = {"name": "draft_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
IDEMPOTENCY_KEY = {"$ref": "#/components/parameters/IdempotencyKey"}
GENERATION = {"name": "number", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
HISTORY_NET = {"name": "net", "in": "query", "schema": {"type": "string"}, "description": "a net code"}
HISTORY_AREA = {
    "name": "area",
    "in": "query",
    "schema": {"type": "string"},
    "description": "an admin-unit code",
}
GEOMETRY = {
    "type": "object",
    "description": "a GeoJSON geometry (or Feature), CGCS2000 lon/lat unless `crs` says otherwise",
    "required": ["type", "coordinates"],
    "properties": {"type": {"type": "string"}, "coordinates": {"type": "array"}},
}


def _resp(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {str(c): _resp(ERROR, "refused, with the reason in Chinese and English") for c in codes}


SCHEMAS = {
    "Draft": {
        "type": "object",
        "required": ["id", "net", "status"],
        "properties": {
            "id": {"type": "integer"},
            "net": {"type": "string"},
            "partition_group": {"type": "string"},
            "area": {"type": "object"},
            "status": {"type": "string"},
            "base_generations": {"type": "object", "additionalProperties": {"type": "integer"}},
            "stale": {"type": "boolean"},
            "grids": {"type": "integer"},
            "changed": {"type": "integer"},
            "removed": {"type": "integer"},
            "metric_srid": {"type": "integer"},
            "created_by": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "note": {"type": "string"},
        },
    },
    "DraftCreate": {
        "type": "object",
        "required": ["net", "area"],
        "properties": {
            "net": {"type": "string", "minLength": 1, "maxLength": 32, "example": "comprehensive"},
            "area": {"type": "string", "minLength": 1, "maxLength": 15, "description": "an admin-unit code"},
            "note": {"type": "string", "maxLength": 2000},
        },
    },
    "Proposal": {
        "type": "object",
        "description": "a run of the grid drawing assistant; `draft` names the draft it made when done",
        "required": ["id", "status", "area", "target", "village_target", "done", "total", "progress"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": ["queued", "running", "done", "failed", "cancelled"]},
            "area": {"type": "string"},
            "target": {"type": "integer"},
            "village_target": {"type": "integer"},
            "done": {"type": "integer", "description": "communities drawn so far"},
            "total": {"type": "integer"},
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "draft": {"type": "integer", "nullable": True},
            "summary": {"type": "object", "nullable": True},
            "error": {"type": "object", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": "string", "format": "date-time", "nullable": True},
            "finished_at": {"type": "string", "format": "date-time", "nullable": True},
            "links": {"type": "object"},
        },
    },
    "ProposalCreate": {
        "type": "object",
        "required": ["area"],
        "properties": {
            "area": {"type": "string", "minLength": 1, "maxLength": 15, "description": "an admin-unit code"},
            "target": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 300},
            "village_target": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 100},
            "note": {"type": "string", "maxLength": 500},
        },
    },
    "Operation": {
        "type": "object",
        "required": ["op"],
        "description": "split {grid, line}; merge {grids, keep?}; delete {grid, into}; "
        "reshape {grids, edge | geometries}; create {polygon, net, kind?, name?, target_households?}",
        "properties": {
            "op": {"type": "string", "enum": list(OPS)},
            "grid": {"type": "string", "maxLength": 64},
            "grids": {"type": "array", "items": {"type": "string", "maxLength": 64}},
            "into": {"type": "string", "maxLength": 64},
            "keep": {"type": "string", "maxLength": 64},
            "line": GEOMETRY,
            "edge": GEOMETRY,
            "polygon": GEOMETRY,
            "geometries": {"type": "object", "additionalProperties": GEOMETRY},
            "crs": {"type": "string", "maxLength": 80},
            "net": {"type": "string"},
            "kind": {"type": "string"},
            "name": {"type": "string"},
            "target_households": {"type": "integer"},
        },
    },
}

PATHS = {
    "/api/boundaries/drafts": {
        "get": {
            "summary": "边界草稿列表 · drafts you may edit",
            "responses": {
                "200": _resp({"type": "object", "properties": {"drafts": {"type": "array"}}}),
                **_errors(401),
            },
        },
        "post": {
            "summary": "新建草稿 · open a draft of a net over an area",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DraftCreate"}}},
            },
            "responses": {
                "201": _resp({"$ref": "#/components/schemas/Draft"}, "created"),
                **_errors(400, 401, 403, 409, 422),
            },
        },
    },
    "/api/boundaries/drafts/{draft_id}": {
        "get": {
            "summary": "草稿 · one draft",
            "parameters": [DRAFT_ID],
            "responses": {"200": _resp({"$ref": "#/components/schemas/Draft"}), **_errors(401, 403, 404)},
        },
        "delete": {
            "summary": "放弃草稿 · discard the draft",
            "parameters": [DRAFT_ID],
            "responses": {
                "200": _resp({"$ref": "#/components/schemas/Draft"}),
                **_errors(401, 403, 404, 409),
            },
        },
    },
    "/api/boundaries/drafts/{draft_id}/grids": {
        "get": {
            "summary": "草稿网格 · the draft's grids as GeoJSON",
            "parameters": [DRAFT_ID],
            "responses": {
                "200": _resp({"type": "object", "required": ["type", "features"]}),
                **_errors(401, 403, 404),
            },
        },
    },
    "/api/boundaries/drafts/{draft_id}/operations": {
        "get": {
            "summary": "操作记录 · the draft's operations, oldest first",
            "parameters": [DRAFT_ID],
            "responses": {"200": _resp({"type": "object"}), **_errors(401, 403, 404)},
        },
        "post": {
            "summary": "编辑 · split, merge, delete, reshape or create grids",
            "parameters": [DRAFT_ID, IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Operation"}}},
            },
            "responses": {
                "200": _resp({"type": "object", "required": ["result", "validation", "draft"]}),
                **_errors(400, 401, 403, 404, 409, 422),
            },
        },
    },
    "/api/boundaries/drafts/{draft_id}/validation": {
        "get": {
            "summary": "校验 · gaps, overlaps, slivers",
            "parameters": [DRAFT_ID],
            "responses": {"200": _resp({"type": "object", "required": ["ok"]}), **_errors(401, 403, 404)},
        },
    },
    "/api/boundaries/drafts/{draft_id}/impact": {
        "get": {
            "summary": "影响 · what moves when the draft is published",
            "parameters": [DRAFT_ID],
            "responses": {"200": _resp({"type": "object"}), **_errors(401, 403, 404)},
        },
    },
    "/api/boundaries/drafts/{draft_id}/publish": {
        "post": {
            "summary": "发布 · make the draft the boundaries in force (one transaction)",
            "parameters": [DRAFT_ID, IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["note"],
                            "properties": {
                                "note": {"type": "string", "minLength": 1, "maxLength": 2000},
                                "workers": {"type": "object", "additionalProperties": {"type": "string"}},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _resp({"type": "object", "required": ["change", "published_at"]}),
                **_errors(400, 401, 403, 404, 409, 422),
            },
        },
    },
    "/api/boundaries/drafts/{draft_id}/undo": {
        "post": {
            "summary": "撤销 · take back the draft's last operation",
            "parameters": [DRAFT_ID],
            "responses": {
                "200": _resp({"type": "object", "required": ["undone"]}),
                **_errors(401, 403, 404, 409),
            },
        },
    },
    "/api/boundaries/drafts/{draft_id}/units": {
        "get": {
            "summary": "分区单元 · the communities (or districts) the draft partitions, as GeoJSON",
            "parameters": [DRAFT_ID],
            "responses": {
                "200": _resp({"type": "object", "required": ["features"]}),
                **_errors(401, 403, 404),
            },
        },
    },
    "/api/boundaries/drafts/{draft_id}/edge": {
        "get": {
            "summary": "公共边 · the shared edge of two grids of the draft",
            "parameters": [
                DRAFT_ID,
                {
                    "name": "grids",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "two grid codes, comma-separated",
                },
            ],
            "responses": {
                "200": _resp({"type": "object", "required": ["edge"]}),
                **_errors(400, 401, 403, 404, 422),
            },
        },
    },
    "/api/boundaries/drafts/import": {
        "post": {
            "summary": "导入草稿 · open a draft from a survey team's GeoPackage, GeoJSON or zipped Shapefile",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file", "net", "area"],
                            "properties": {
                                "file": {"type": "string", "format": "binary"},
                                "net": {"type": "string"},
                                "area": {"type": "string"},
                                "crs": {"type": "string"},
                                "encoding": {"type": "string"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": _resp({"type": "object", "required": ["draft"]}, "created"),
                **_errors(400, 401, 403, 409, 413, 422),
            },
        },
    },
    "/api/boundaries/proposals": {
        "post": {
            "summary": "网格划分助手 · propose grids along roads, sized by households, as a draft",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProposalCreate"}}},
            },
            "responses": {
                "202": _resp(
                    {"type": "object", "properties": {"proposal": {"$ref": "#/components/schemas/Proposal"}}},
                    "queued",
                ),
                **_errors(400, 401, 403, 422),
            },
        },
    },
    "/api/boundaries/proposals/{proposal_id}": {
        **{
            method: {
                "summary": summary,
                "parameters": [
                    {"name": "proposal_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _resp(
                        {
                            "type": "object",
                            "properties": {"proposal": {"$ref": "#/components/schemas/Proposal"}},
                        }
                    ),
                    **_errors(*codes),
                },
            }
            for method, summary, codes in (
                ("get", "划分进度 · a run's progress, and its draft when done", (401, 403, 404)),
                ("delete", "取消划分 · cancel a run (409 once it has finished)", (401, 403, 404, 409)),
            )
        }
    },
    "/api/boundaries/generations": {
        "get": {
            "summary": "边界版本 · the published generations of a net, newest first",
            "parameters": [HISTORY_NET, HISTORY_AREA],
            "responses": {
                "200": _resp({"type": "object", "required": ["generations"]}),
                **_errors(400, 401, 403, 404, 422),
            },
        },
    },
    "/api/boundaries/generations/compare": {
        "get": {
            "summary": "版本对比 · what differs between two generations",
            "parameters": [
                HISTORY_NET,
                HISTORY_AREA,
                {"name": "a", "in": "query", "required": True, "schema": {"type": "integer", "minimum": 1}},
                {"name": "b", "in": "query", "required": True, "schema": {"type": "integer", "minimum": 1}},
            ],
            "responses": {"200": _resp({"type": "object"}), **_errors(400, 401, 403, 404, 422)},
        },
    },
    "/api/boundaries/generations/{number}": {
        "get": {
            "summary": "某版本的网格 · the grids as they were in one generation (GeoJSON)",
            "parameters": [GENERATION, HISTORY_NET, HISTORY_AREA],
            "responses": {"200": _resp({"type": "object"}), **_errors(400, 401, 403, 404, 422)},
        },
    },
    "/api/boundaries/generations/{number}/export": {
        "get": {
            "summary": "导出版本 · a file of one generation's grids that the draft import reads back",
            "parameters": [
                GENERATION,
                HISTORY_NET,
                HISTORY_AREA,
                {
                    "name": "format",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["gpkg", "shp", "geojson"]},
                },
            ],
            "responses": {
                "200": {
                    "description": "the file",
                    "content": {
                        t: {"schema": {"type": "string", "format": "binary"}}
                        for t in ("application/geopackage+sqlite3", "application/geo+json", "application/zip")
                    },
                },
                **_errors(400, 401, 403, 404, 422),
            },
        },
    },
}
