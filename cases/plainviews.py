"""Plain Django views' plumbing for the case loop's endpoints not yet declared on the API layer
(campaigns, the public map's reports): their JSON reader, login and refusals.  Transitional: they move
to gisapp.apikit operations like cases/api.py, and this module goes with them."""

from __future__ import annotations

import datetime as dt
import json

from django.utils import timezone
from django.views.decorators.http import require_http_methods

from gisapp.limits import has_nul

from .errors import CaseError


def json_body(request, max_bytes: int = 1024 * 1024) -> dict:
    """The request's JSON object, or a CaseError saying what is wrong with it."""
    if len(request.body) > max_bytes:
        raise CaseError(413, "请求体过大", "request body too large")
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        raise CaseError(400, "请求体不是有效的 JSON", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise CaseError(400, "请求体应为 JSON 对象", "the body must be a JSON object")
    if has_nul(data):
        raise CaseError(
            400, "文本中不能含有 NUL（\\u0000）字符", "text must not contain NUL (\\u0000) characters"
        )
    return data


def _login_required(request) -> None:
    if not request.user.is_authenticated:
        raise CaseError(401, "需要登录", "authentication required")


def api_view(methods: list[str]):
    """JSON errors for every refusal, and authentication first."""

    def wrap(view):
        @require_http_methods(methods)
        def inner(request, *args, **kwargs):
            try:
                _login_required(request)
                return view(request, *args, **kwargs)
            except CaseError as exc:
                return exc.response()

        inner.__name__ = view.__name__
        inner.__doc__ = view.__doc__
        return inner

    return wrap


def parse_time(value: str, name: str) -> dt.datetime:
    """An ISO 8601 time (naive = local), in UTC: Python takes offsets up to ±24 h, PostgreSQL only ±16 h
    ("-21:33" was a 500), and converting first also catches moments that overflow the calendar."""
    try:
        parsed = dt.datetime.fromisoformat(value)
        parsed = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise CaseError(400, f"{name} 不是有效的时间", f"{name} must be an ISO 8601 date or time") from None


def int_param(value: str, name: str, lo: int, hi: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise CaseError(400, f"{name} 应为整数", f"{name} must be an integer") from None
    if not lo <= number <= hi:
        raise CaseError(400, f"{name} 应在 {lo}–{hi} 之间", f"{name} must be between {lo} and {hi}")
    return number
