"""Limits every request meets whatever view answers it, each refused with a reason instead of a hang or a 500.

- Body size, in front of Django and the tile server (`body_limit`, ASGI): Django's ASGI handler spools a
  whole request body to memory or disk before any view runs, and DATA_UPLOAD_MAX_MEMORY_SIZE only checks
  it when a view reads it (multipart files not at all), so a 10 GB upload would fill the disk first.
  A Content-Length over the limit is answered 413 at once; a chunked body is counted as it arrives.
- Database trouble (`DatabaseLimitsMiddleware`, Django): a statement past its `statement_timeout`, no free
  pooled connection within the pool's timeout, or a dropped connection is a 503 with Retry-After — the
  client retries (with its Idempotency-Key) instead of reading a 500 page.  Django's own body checks
  (RequestDataTooBig, too many fields) become 413 in the same JSON shape.
"""

from __future__ import annotations

import json
import logging
import os

import psycopg
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DatabaseError
from django.http.multipartparser import MultiPartParserError

from .views import error_json

log = logging.getLogger(__name__)

# The largest body any endpoint needs: a batch-geocoding CSV of 200,000 addresses (~16 MB) or a 10 MB photo.
MAX_BODY_BYTES = int(float(os.environ.get("ONENET_MAX_BODY_MB", "32")) * 1024 * 1024)
RETRY_AFTER_S = 5


def _too_large_body(limit: int) -> bytes:
    mb = limit / 1024 / 1024
    return json.dumps(
        {
            "code": 413,
            "error": {"zh": f"请求体超过 {mb:g} MB 上限", "en": f"the request body is larger than {mb:g} MB"},
        },
        ensure_ascii=False,
    ).encode()


async def _send_error(send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def body_limit(app, limit: int = MAX_BODY_BYTES):
    """ASGI middleware: refuse bodies over `limit` bytes with 413 before the app buffers them."""

    async def limited(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                body = json.dumps(
                    {"code": 400, "error": {"zh": "Content-Length 无效", "en": "bad Content-Length"}}
                )
                return await _send_error(send, 400, body.encode())
            if length > limit:
                return await _send_error(send, 413, _too_large_body(limit))
            return await app(scope, receive, send)
        # No Content-Length (chunked): count what arrives; past the limit the app sees the client leave.
        state = {"received": 0, "over": False, "started": False}

        async def counting_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await app(scope, counting_receive, tracking_send)
        if state["over"] and not state["started"]:
            await _send_error(send, 413, _too_large_body(limit))

    return limited


def _cause_chain(exc: BaseException):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def has_nul(value: object) -> bool:
    """Whether a string anywhere in a parsed JSON value holds a NUL character, which PostgreSQL text
    cannot store (psycopg refuses it with a DataError: a 500 before)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def nul_refusal():
    return error_json(
        400, "文本中不能含有 NUL（\\u0000）字符", "text must not contain NUL (\\u0000) characters"
    )


class DatabaseLimitsMiddleware:
    """Django middleware: body-size refusals and database limits as the API's JSON errors, and NUL
    characters in the path or query refused before any view puts them in a query."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The raw query string, not request.GET: parsing it here would raise TooManyFieldsSent outside
        # the view, where the views' own JSON answer to a flood of parameters could not be given.
        # The OGC API checks its parameters itself and answers in the OGC exception format.
        query = request.META.get("QUERY_STRING", "")
        if request.path.startswith("/ogcapi/"):
            return self.get_response(request)
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return nul_refusal()
        return self.get_response(request)

    def process_exception(self, request, exc):
        if isinstance(exc, RequestDataTooBig):
            return error_json(413, "请求体过大", "request body too large")
        if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
            return error_json(413, "表单字段或文件过多", "too many form fields or files")
        if isinstance(exc, MultiPartParserError):  # Django's answer is its HTML 400 page
            return error_json(400, "multipart 请求体格式错误", f"malformed multipart body: {exc}"[:200])
        if not isinstance(exc, DatabaseError):
            return None
        causes = list(_cause_chain(exc))
        if any(
            isinstance(c, psycopg.errors.UntranslatableCharacter)
            or (isinstance(c, psycopg.DataError) and "NUL" in str(c))
            for c in causes
        ):
            return nul_refusal()  # a NUL that came some other way than the checked JSON readers
        if any(isinstance(c, psycopg.errors.QueryCanceled) for c in causes):
            zh, en = "查询超时，请缩小范围或稍后重试", "the query took too long; narrow it or try again later"
        elif any(type(c).__name__ == "PoolTimeout" for c in causes) or any(
            isinstance(c, psycopg.OperationalError) for c in causes
        ):
            zh, en = "数据库繁忙，请稍后重试", "the database is busy; try again later"
        else:
            return None  # a programming error stays a 500, and is logged as one
        log.warning("503 for %s %s: %s", request.method, request.path, exc)
        response = error_json(503, zh, en)
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
