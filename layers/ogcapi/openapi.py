"""The OpenAPI 3.0 description served at /ogcapi/api, written from the layer registry.

Clients read it to learn which query parameters each collection accepts: GDAL's OAPIF driver, for one,
sends an attribute filter to the server only for properties listed here as parameters of that
collection's /items path, and filters everything else itself after downloading every page.
"""

from __future__ import annotations

from django.conf import settings

from layers.registry import LayerSpec

from .features import HISTORICAL, TEMPORAL, published_field_type
from .params import CRS84, MAX_OFFSET

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"


def _param(name: str, description: str, schema: dict, **extra) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        **extra,
    }


COMMON = {
    "f": _param("f", "Output format (输出格式).", {"type": "string", "enum": ["json", "geojson"]}),
    "bbox": _param(
        "bbox",
        "Only features whose geometry intersects the box: minlon,minlat,maxlon,maxlat in CRS84 "
        "(只返回与范围相交的要素).",
        {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
        style="form",
        explode=False,
    ),
    "bbox-crs": _param("bbox-crs", "CRS of bbox; only CRS84.", {"type": "string", "enum": [CRS84]}),
    "offset": _param(
        "offset",
        "Features to skip (跳过的要素数).",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
    ),
    "datetime": _param(
        "datetime",
        "RFC 3339 instant or interval (a/b, open end ..). Applies to the collection's temporal property; "
        "collections without one return all features.",
        {"type": "string"},
    ),
    "date": _param(
        "date",
        "A past day (YYYY-MM-DD): the boundaries in force at the end of that day "
        "(某日结束时生效的边界，用于查询历史).",
        {"type": "string", "format": "date"},
    ),
}


def _limit() -> dict:
    return _param(
        "limit",
        "Maximum number of features in the response (每页要素数).",
        {
            "type": "integer",
            "minimum": 1,
            "maximum": settings.OGCAPI_MAX_LIMIT,
            "default": settings.OGCAPI_DEFAULT_LIMIT,
        },
        style="form",
        explode=False,
    )


def _json(description: str, media: str = "application/json") -> dict:
    return {"description": description, "content": {media: {"schema": {"type": "object"}}}}


ERRORS = {
    "400": _json("Invalid parameter (参数无效)"),
    "401": _json("Authentication required (需要登录)"),
    "404": _json("Not found (不存在)"),
    "406": _json("Not acceptable (不支持的格式)"),
}


def _feature_schema(spec: LayerSpec) -> dict:
    return {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {"type": "object", "nullable": True},
            "properties": {
                "type": "object",
                "properties": {name: published_field_type(spec, name) for name in spec.properties},
            },
        },
    }


def openapi_document(base_url: str, layers: list[LayerSpec]) -> dict:
    """The description of the API as `layers` (the collections the caller may read) shape it."""
    paths: dict[str, dict] = {
        "/": {
            "get": {
                "summary": "Landing page (首页)",
                "operationId": "getLandingPage",
                "responses": {"200": _json("Links to the API's resources"), **ERRORS},
            }
        },
        "/conformance": {
            "get": {
                "summary": "Conformance classes (符合性声明)",
                "operationId": "getConformance",
                "responses": {"200": _json("The conformance classes")},
            }
        },
        "/collections": {
            "get": {
                "summary": "Collections (图层列表)",
                "operationId": "getCollections",
                "responses": {"200": _json("The collections"), **ERRORS},
            }
        },
        "/api": {
            "get": {
                "summary": "This document",
                "operationId": "getApi",
                "responses": {"200": _json("OpenAPI 3.0", OPENAPI_MEDIA_TYPE)},
            }
        },
    }
    schemas: dict[str, dict] = {}
    for spec in layers:
        base = f"/collections/{spec.id}"
        title = f"{spec.title} {spec.title_en}"
        params = [COMMON["f"], COMMON["bbox"], COMMON["bbox-crs"], _limit(), COMMON["offset"]]
        if spec.id in TEMPORAL:
            params.append(COMMON["datetime"])
        if spec.id in HISTORICAL:
            params.append(COMMON["date"])
        for name in spec.filterable:
            params.append(
                _param(
                    name,
                    f"Equality filter on property {name} (按属性筛选).",
                    published_field_type(spec, name),
                )
            )
        schema_name = f"feature-{spec.id}"
        schemas[schema_name] = _feature_schema(spec)
        secured = {} if spec.public else {"security": [{"bearer": []}, {"session": []}]}
        paths[base] = {
            "get": {
                "summary": f"{title}: description",
                "operationId": f"describe-{spec.id}",
                "tags": [spec.id],
                "responses": {"200": _json("The collection"), **ERRORS},
                **secured,
            }
        }
        paths[f"{base}/items"] = {
            "get": {
                "summary": f"{title}: features",
                "operationId": f"getFeatures-{spec.id}",
                "tags": [spec.id],
                "parameters": params,
                "responses": {
                    "200": {
                        "description": "GeoJSON FeatureCollection",
                        "content": {
                            "application/geo+json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "type": {"type": "string", "enum": ["FeatureCollection"]},
                                        "features": {
                                            "type": "array",
                                            "items": {"$ref": f"#/components/schemas/{schema_name}"},
                                        },
                                        "numberMatched": {"type": "integer"},
                                        "numberReturned": {"type": "integer"},
                                        "timeStamp": {"type": "string", "format": "date-time"},
                                    },
                                }
                            }
                        },
                    },
                    **ERRORS,
                },
                **secured,
            }
        }
        paths[f"{base}/items/{{featureId}}"] = {
            "get": {
                "summary": f"{title}: one feature",
                "operationId": f"getFeature-{spec.id}",
                "tags": [spec.id],
                "parameters": [
                    {"name": "featureId", "in": "path", "required": True, "schema": {"type": "integer"}},
                    COMMON["f"],
                    *([COMMON["date"]] if spec.id in HISTORICAL else []),
                ],
                "responses": {
                    "200": {
                        "description": "GeoJSON Feature",
                        "content": {
                            "application/geo+json": {
                                "schema": {"$ref": f"#/components/schemas/{schema_name}"}
                            }
                        },
                    },
                    **ERRORS,
                },
                **secured,
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "一网统管电子地图 OGC API – Features",
            "description": "Layers of the one-net map (grid-based city governance) as GeoJSON. "
            "Non-public collections need a session or `Authorization: Bearer <token>` "
            "from POST /api/auth/token and show only rows inside the caller's jurisdiction.",
            "version": "1.0.0",
            "license": {"name": "Apache-2.0"},
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
        },
    }
