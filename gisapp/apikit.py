"""What every app's API operations share: parsing, authentication, the error shape and its schemas.

The JSON APIs are django-ninja operations declared with pydantic schemas; each app has a `Router` and
`gisapp.api` mounts them all in one `NinjaAPI`, whose OpenAPI document (/api/openapi.json) is generated
from those declarations.  This module is the plumbing they share, so that each refusal looks the same
whichever app gives it:

- the body is read once (`JsonParser`): over its operation's size limit 413, not JSON 400, any NUL
  character 400 — all before a schema sees it;
- a request a schema refuses is a 400 in the bilingual shape naming the field that failed
  (`validation_error`), and an unknown query parameter is refused by name (schemas forbid extras);
- `ApiError` (gisapp.errors), raised anywhere below an operation, becomes its JSON answer;
- `LOGIN` (bearer token or session with its CSRF token) is the authentication of internal operations.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Schema
from ninja.decorators import decorate_view
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer, SessionAuth
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from .errors import ApiError
from .limits import has_nul
from .views import error_json

DEFAULT_MAX_BODY = 1024 * 1024  # a JSON body; operations that take more (or less) say so (`max_body`)


class Reason(Schema):
    zh: str
    en: str


class Error(BaseModel):
    """Every refusal: the HTTP status again, the reason in Chinese and English, and whatever else helps
    (the field that failed, a hint, the current version …)."""

    model_config = ConfigDict(extra="allow")
    code: int
    error: Reason


class Open(BaseModel):
    """An answer whose declared fields are documented and checked, and whose other fields pass through
    (a pydantic model, not ninja's Schema, whose attribute reader would drop the undeclared ones)."""

    model_config = ConfigDict(extra="allow")


class Params(Schema):
    """Query parameters (an unknown one is refused by `refuse_unknown_query`)."""


class Body(BaseModel):
    """A JSON request body: values are taken as sent (no "5" for 5); fields it does not declare are
    ignored, as they always were (a schema that refuses them says extra="forbid", one that passes them
    on extra="allow": a pydantic model, since ninja's Schema would drop them)."""

    model_config = ConfigDict(strict=True)


def responses(ok: Any = Open, *codes: int, status: int = 200, also: dict | None = None) -> dict:
    """An operation's `response=`: its answer at `status` (and `also`, more answers) and each of its
    refusals in the error shape; 400 (a malformed request), 403 (no CSRF token, outside one's
    jurisdiction) and 503 (the database busy) are every operation's."""
    out: dict = {status: ok, **(also or {})}
    for code in sorted({400, 403, 503, *codes}):
        out.setdefault(code, Error)
    return out


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a key the client makes once per intended create: a retry with the same key (and body) "
    "answers what the first request did instead of doing it again",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100},
}


def max_body(limit: int):
    """Decorator of an operation: its own JSON body limit (read by JsonParser), instead of 1 MB."""

    def around(run):
        @functools.wraps(run)
        def limited(request: HttpRequest, *args, **kwargs):
            request._onenet_max_body = limit
            return run(request, *args, **kwargs)

        return limited

    return decorate_view(around)


def idempotent(scope: str):
    """Decorator of an operation that creates something: the Idempotency-Key header honoured
    (gisapp.idempotency: a retry answers what the first request did)."""
    from .idempotency import idempotent as remembered

    return decorate_view(remembered(scope))


def read_json(request: HttpRequest, limit: int = DEFAULT_MAX_BODY) -> Any:
    """The request's JSON body, or the ApiError that says what is wrong with it: the one JSON reader of
    the API (JsonParser uses it; so do the few operations that take JSON or a form, and read it
    themselves)."""
    raw = request.body
    if len(raw) > limit:
        raise ApiError(413, "请求体过大", "request body too large", reason="too_large")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        raise ApiError(
            400, "请求体不是有效的 JSON", "the body is not valid JSON", reason="bad_json"
        ) from None
    if has_nul(data):
        raise ApiError(
            400,
            "文本中不能含有 NUL（\\u0000）字符",
            "text must not contain NUL (\\u0000) characters",
            reason="bad_json",
        )
    return data


class JsonParser(Parser):
    """Bodies for the operations' schemas: JSON (read_json), or an HTML form's fields."""

    def parse_body(self, request: HttpRequest) -> Any:
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return request.POST.dict()  # the token endpoint takes a form too
        return read_json(request, getattr(request, "_onenet_max_body", DEFAULT_MAX_BODY))


class Renderer(JSONRenderer):
    json_dumps_params = {"ensure_ascii": False}


# -- authentication ----------------------------------------------------------------------------------
# gisapp.accounts.tokens.BearerTokenMiddleware has already resolved a bearer token into request.user
# (tiles and pages need it too); these classes decide, per operation, that a login is required, and
# declare the two ways of giving one in the OpenAPI document.


class BearerToken(HttpBearer):
    """`Authorization: Bearer …` from POST /api/auth/token."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return request.user if request.user.is_authenticated else None


class Session(SessionAuth):
    """The pages' session cookie; unsafe methods need the CSRF token (a JSON 403 otherwise)."""


LOGIN = [BearerToken(), Session()]


def login_where(check) -> list:
    """LOGIN, and then `check(user)`, which raises an ApiError (403) for a user the operation is not for:
    refused before the request is parsed, as a role should be."""

    class CheckedBearer(BearerToken):
        def authenticate(self, request: HttpRequest, token: str) -> Any:
            user = super().authenticate(request, token)
            if user is not None:
                check(user)
            return user

    class CheckedSession(Session):
        def authenticate(self, request: HttpRequest, key: str | None) -> Any:
            user = super().authenticate(request, key)
            if user is not None:
                check(user)
            return user

    CheckedBearer.__name__, CheckedSession.__name__ = (
        "BearerToken",
        "Session",
    )  # one scheme each in the document
    return [CheckedBearer(), CheckedSession()]


# -- errors ------------------------------------------------------------------------------------------
def _field(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts[:1] == ["body"] and len(parts) > 2:
        parts = parts[2:]  # ("body", the operation's parameter name, the field …)
    elif parts and parts[0] in {"query", "body", "path", "header", "form", "file", "cookie"}:
        parts = parts[1:]
    return ".".join(parts)


def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """What a schema refused, in the error shape, naming the field (the first one when several failed)."""
    errors = exc.errors
    unknown = sorted({_field(e["loc"]) for e in errors if e.get("type") == "extra_forbidden"})
    if unknown:
        names = ", ".join(unknown)[:200]
        return error_json(400, f"未知字段：{names}", f"unknown fields: {names}", field=unknown[0])
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    field = _field(first.get("loc", ()))
    if not field and first.get("type") == "model_type":
        return error_json(400, "请求体应为 JSON 对象", "the body must be a JSON object", reason="bad_json")
    missing = first.get("type") == "missing"
    zh = f"缺少字段 {field}" if missing else f"字段 {field} 无效"
    en = f"{field} is required" if missing else f"{field}: {first.get('msg', 'invalid')}"
    return error_json(400, zh, en, field=field or None)


def model_error(request: HttpRequest, exc: PydanticValidationError) -> HttpResponse:
    """A schema an operation applied itself (a body it reads as JSON or as a form)."""
    return validation_error(request, ValidationError(exc.errors(include_url=False)))


def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, ApiError):  # the body parser's refusal, wrapped by ninja
        return exc.__cause__.response()
    if isinstance(exc, AuthenticationError):
        return error_json(401, "需要登录", "authentication required")
    if exc.status_code == 403 and "CSRF" in str(exc.message):  # the session auth's CSRF check
        from .views import csrf_failure

        return csrf_failure(request)
    return error_json(exc.status_code, "请求被拒绝", str(exc.message))


def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return exc.response()


def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_json(404, "未找到该资源", f"not found: {request.path}")


def _declared_query(operation) -> set[str] | None:
    """The query parameters an operation declares, or None when it takes others too (a schema with
    extra="allow": Open311's clients send extensions of their own)."""
    names: set[str] = set()
    for model in getattr(operation, "models", []):
        if model.__ninja_param_source__ != "query":
            continue
        for field in model.model_fields.values():
            if getattr(field.annotation, "model_config", {}).get("extra") == "allow":
                return None
        names.update(getattr(model, "__ninja_flatten_map__", {}))
    return names


def refuse_unknown_query(run):
    """View decorator of every operation: a query parameter the operation does not declare is a 400
    naming it (ninja reads only the declared ones, so a typo would silently widen a filter)."""
    import inspect

    operation = getattr(inspect.unwrap(run), "__self__", None)
    declared: list[set[str] | None] = []  # computed at the first request, when the models are built

    def refusal(request: HttpRequest) -> HttpResponse | None:
        if not declared:
            declared.append(_declared_query(operation))
        if declared[0] is None:
            return None
        unknown = sorted(set(request.GET) - declared[0])
        if not unknown:
            return None
        names = ", ".join(unknown)[:200]
        return error_json(400, f"未知参数：{names}", f"unknown parameters: {names}")

    if inspect.iscoroutinefunction(run):

        @functools.wraps(run)
        async def checked_async(request: HttpRequest, *args, **kwargs):
            return refusal(request) or await run(request, *args, **kwargs)

        return checked_async

    @functools.wraps(run)
    def checked(request: HttpRequest, *args, **kwargs):
        return refusal(request) or run(request, *args, **kwargs)

    return checked


def install(api) -> None:
    """The project's error handlers and request checks on a NinjaAPI, before any router is mounted
    (anything else propagates to Django, where gisapp.limits turns database trouble into a 503 and the
    rest is a logged 500)."""
    api.add_decorator(refuse_unknown_query, mode="view")
    api.add_exception_handler(ValidationError, validation_error)
    api.add_exception_handler(PydanticValidationError, model_error)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(ApiError, api_error)
    api.add_exception_handler(Http404, not_found)


__all__ = [
    "LOGIN",
    "ApiError",
    "Body",
    "Error",
    "IDEMPOTENCY_KEY",
    "JsonParser",
    "Open",
    "Params",
    "Renderer",
    "install",
    "max_body",
    "responses",
]


METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class MethodNotAllowedMiddleware:
    """Django middleware: ninja answers a method a path does not take with a plain-text 405; the API's
    callers get the JSON error and an Allow header in a stable order (GET, HEAD, POST …)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or response.get("Content-Type", "").startswith("application/json"):
            return response
        from .views import API_PREFIXES

        if not request.path.startswith((*API_PREFIXES, "/open311/")):
            return response
        allowed = {m.strip().upper() for m in response.get("Allow", "").split(",") if m.strip()}
        allow = ", ".join(sorted(allowed, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99))
        answer = error_json(405, f"只接受 {allow}", f"use {allow}")
        answer["Allow"] = allow
        return answer
