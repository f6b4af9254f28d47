"""OGC API – Features, Part 1 Core, with GeoJSON: the city's layers for GIS clients (QGIS, GDAL, scripts).

Collections and their properties come only from `layers.registry`, and rows only through
`LayerSpec.visible_to`, so this API can publish neither a column nor a row that the registry and the
jurisdiction rules do not already allow.  Every answer, errors included, is JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.core.exceptions import SuspiciousOperation
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt

from layers.registry import LAYERS, LayerSpec, get_layer

from .features import HISTORICAL, as_of, extent, feature_text, feature_texts, filtered, unauthorized
from .openapi import OPENAPI_MEDIA_TYPE, openapi_document
from .params import (
    CRS84,
    ApiError,
    check_format,
    check_only,
    parse_day,
    parse_items_query,
    single,
    wants_json,
)

JSON = "application/json"
GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
_FID = re.compile(r"[0-9]{1,18}")


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)


def _respond(body: str, content_type: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(body.encode(), content_type=content_type, status=status)
    # The same URL answers differently per user (jurisdiction) and per Accept header.
    patch_vary_headers(response, ("Accept", "Authorization", "Cookie"))
    return response


def error_response(exc: ApiError) -> HttpResponse:
    response = _respond(_dumps(exc.payload()), JSON, status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


def ogc_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Method, content negotiation and error handling shared by every endpoint."""

    @csrf_exempt  # read-only: a POST must reach the JSON 405 below, not the CSRF failure page
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            if request.method not in ("GET", "HEAD"):
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    f"不支持 {request.method} 方法，只能 GET",
                    f"method {request.method} is not allowed; use GET",
                    headers={"Allow": "GET, HEAD"},
                )
            if "f" not in request.GET and not wants_json(request.headers.get("Accept", "")):
                raise ApiError(
                    406,
                    "NotAcceptable",
                    "只提供 JSON / GeoJSON 格式",
                    "only JSON and GeoJSON are available",
                )
            return view(request, *args, **kwargs)
        except ApiError as exc:
            return error_response(exc)
        except SuspiciousOperation:  # e.g. more query parameters than Django agrees to parse
            return error_response(ApiError(400, "InvalidParameterValue", "请求无效", "malformed request"))
        except OperationalError:  # a statement timeout or a lost connection: the client may retry
            return error_response(
                ApiError(
                    503,
                    "ServiceUnavailable",
                    "数据库繁忙，请稍后重试",
                    "the database is busy; try again later",
                    headers={"Retry-After": "5"},
                )
            )

    return wrapper


def _url(request: HttpRequest, name: str, *args: str) -> str:
    return request.build_absolute_uri(reverse(f"ogcapi:{name}", args=args))


def _link(href: str, rel: str, media_type: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def _layer(collection_id: str) -> LayerSpec:
    spec = get_layer(collection_id)
    if spec is None:
        raise ApiError(
            404, "NotFound", f"图层不存在：{collection_id}", f"no such collection: {collection_id}"
        )
    return spec


def _only_format(request: HttpRequest) -> None:
    check_only(request.GET, ("f",))
    check_format(request.GET)


@ogc_endpoint
def landing(request: HttpRequest) -> HttpResponse:
    _only_format(request)
    doc = {
        "title": "一网统管电子地图 OGC API – Features",
        "description": "网格化服务管理图层（行政区划、网格、楼栋、服务站点、道路……）；"
        "Layers of the one-net map for grid-based city governance.",
        "links": [
            _link(_url(request, "landing"), "self", JSON, "本页 This document"),
            _link(
                _url(request, "api"),
                "service-desc",
                OPENAPI_MEDIA_TYPE,
                "API 定义 The API definition (OpenAPI 3.0)",
            ),
            _link(_url(request, "conformance"), "conformance", JSON, "符合性声明 Conformance classes"),
            _link(_url(request, "collections"), "data", JSON, "图层 Collections"),
        ],
    }
    return _respond(_dumps(doc), JSON)


@ogc_endpoint
def conformance(request: HttpRequest) -> HttpResponse:
    _only_format(request)
    return _respond(_dumps({"conformsTo": CONFORMANCE}), JSON)


def _readable_layers(request: HttpRequest) -> list[LayerSpec]:
    return [spec for spec in LAYERS.values() if spec.visible_to(request.user) is not None]


@ogc_endpoint
def api(request: HttpRequest) -> HttpResponse:
    _only_format(request)
    base = _url(request, "landing").rstrip("/")
    return _respond(_dumps(openapi_document(base, _readable_layers(request))), OPENAPI_MEDIA_TYPE)


def _collection_doc(request: HttpRequest, spec: LayerSpec) -> dict:
    doc: dict = {
        "id": spec.id,
        "title": spec.title,
        "description": f"{spec.title_en}{'' if spec.public else ' (需要登录 login required)'}",
        "itemType": "feature",
        "crs": [CRS84],
    }
    box = extent(spec)
    if box:
        doc["extent"] = {"spatial": {"bbox": [box], "crs": CRS84}}
    doc["links"] = [
        _link(_url(request, "collection", spec.id), "self", JSON, spec.title),
        _link(_url(request, "items", spec.id), "items", GEOJSON, f"{spec.title} 要素 features"),
    ]
    return doc


@ogc_endpoint
def collections(request: HttpRequest) -> HttpResponse:
    _only_format(request)
    doc = {
        "links": [_link(_url(request, "collections"), "self", JSON, "图层 Collections")],
        "collections": [_collection_doc(request, spec) for spec in _readable_layers(request)],
    }
    return _respond(_dumps(doc), JSON)


@ogc_endpoint
def collection(request: HttpRequest, collection_id: str) -> HttpResponse:
    spec = _layer(collection_id)
    if spec.visible_to(request.user) is None:
        raise unauthorized()
    _only_format(request)
    return _respond(_dumps(_collection_doc(request, spec)), JSON)


@ogc_endpoint
def items(request: HttpRequest, collection_id: str) -> HttpResponse:
    spec = _layer(collection_id)
    qs = spec.visible_to(request.user)
    if qs is None:
        raise unauthorized()
    query = parse_items_query(request.GET, spec.filterable, ("date",) if spec.id in HISTORICAL else ())
    if query.date is not None:
        qs = as_of(spec, query.date).visible_to(request.user)
    qs = filtered(spec, qs, query).order_by("pk")
    matched = qs.count()
    page = (
        feature_texts(spec, qs[query.offset : query.offset + query.limit]) if query.offset < matched else []
    )
    base = _url(request, "items", spec.id)

    def page_url(offset: int) -> str:
        return base + "?" + urlencode([*query.passthrough, ("limit", query.limit), ("offset", offset)])

    links = [
        _link(request.build_absolute_uri(), "self", GEOJSON, "本页 This page"),
        _link(_url(request, "collection", spec.id), "collection", JSON, spec.title),
    ]
    if page and query.offset + len(page) < matched:
        links.append(_link(page_url(query.offset + query.limit), "next", GEOJSON, "下一页 Next page"))
    if query.offset > 0:
        previous = max(0, query.offset - query.limit)
        links.append(_link(page_url(previous), "prev", GEOJSON, "上一页 Previous page"))
    stamp = timezone.now().astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    # The features are already serialised; only the envelope is assembled here.
    body = (
        f'{{"type":"FeatureCollection","numberMatched":{matched},"numberReturned":{len(page)},'
        f'"timeStamp":{_dumps(stamp)},"links":{_dumps(links)},"features":[{",".join(page)}]}}'
    )
    return _respond(body, GEOJSON)


@ogc_endpoint
def item(request: HttpRequest, collection_id: str, fid: str) -> HttpResponse:
    spec = _layer(collection_id)
    qs = spec.visible_to(request.user)
    if qs is None:
        raise unauthorized()
    check_only(request.GET, ("f", "date") if spec.id in HISTORICAL else ("f",))
    check_format(request.GET)
    day = single(request.GET, "date") if spec.id in HISTORICAL else None
    if day is not None:
        qs = as_of(spec, parse_day(day)).visible_to(request.user)
    missing = ApiError(404, "NotFound", f"要素不存在：{fid}", f"no such feature: {fid}")
    if not _FID.fullmatch(fid):
        raise missing
    links = [
        _link(request.build_absolute_uri(), "self", GEOJSON, "本要素 This feature"),
        _link(_url(request, "collection", spec.id), "collection", JSON, spec.title),
    ]
    # Rows outside the caller's jurisdiction answer 404 too: a 403 would confirm that they exist.
    text = feature_text(spec, qs, int(fid), links)
    if text is None:
        raise missing
    return _respond(text, GEOJSON)


@ogc_endpoint
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    raise ApiError(404, "NotFound", f"不存在的地址：{request.path}", f"no such resource: {request.path}")
