"""Live updates: a dispatcher's screen subscribes to new and changed cases with Server-Sent Events.

The source is PostgreSQL itself: a trigger on cases_case NOTIFYs channel `onenet_cases` (migration 0004)
whatever wrote the row — this API, Open311, the admin, a batch import — so no broker is needed and no
writer can forget to publish.  Each subscriber holds one LISTEN connection and gets only the cases inside
its jurisdiction.  SSE rather than WebSocket: one-way, plain HTTP, reconnects by itself in every browser.
"""

from __future__ import annotations

import json
import os

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse

from gisapp.accounts.jurisdiction import jurisdiction_of
from gisapp.views import error_json

CHANNEL = "onenet_cases"
HEARTBEAT_S = 15.0
# Each subscriber holds a database connection: past this many per process a new one is refused (429)
# rather than exhausting PostgreSQL's max_connections for everyone else.
MAX_STREAMS = int(os.environ.get("ONENET_MAX_STREAMS", "200"))
_open_streams = 0


def _conninfo() -> str:
    db = settings.DATABASES["default"]
    parts = {
        "dbname": db["NAME"],
        "user": db.get("USER") or "",
        "password": db.get("PASSWORD") or "",
        "host": db.get("HOST") or "",
        "port": str(db.get("PORT") or ""),
    }
    timeout = os.environ.get("ONENET_STATEMENT_TIMEOUT_MS", "30000")
    return psycopg.conninfo.make_conninfo(
        **{k: v for k, v in parts.items() if v},
        application_name="onenet-live",
        options=f"-c statement_timeout={timeout}",  # like every other connection a request opens
    )


def _filter_for(user):
    """A predicate over notification payloads: what this user may see arrive."""
    j = jurisdiction_of(user)
    if j.everything:
        return lambda p: True
    prefix, dept, unplaced = j.prefix, j.department_id, j.sees_unplaced

    def visible(p: dict) -> bool:
        code = p.get("grid_code") or ""
        if prefix and code.startswith(prefix):
            return True
        if dept is not None and p.get("department_id") == dept:
            return True
        return unplaced and not code

    return visible


async def _events(visible):
    global _open_streams
    _open_streams += 1  # counted here, not in the view: a stream that never starts holds nothing
    try:
        async with await psycopg.AsyncConnection.connect(_conninfo(), autocommit=True) as conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            yield "retry: 3000\n\n"
            async for chunk in _relay(conn, visible):
                yield chunk
    finally:
        _open_streams -= 1


async def _relay(conn, visible):
    while True:
        # notifies(timeout=…) ends quietly after HEARTBEAT_S without a notification; wrapping the
        # generator in wait_for instead would cancel it and end the stream at the first heartbeat.
        async for note in conn.notifies(timeout=HEARTBEAT_S):
            try:
                payload = json.loads(note.payload)
            except ValueError:
                continue
            if visible(payload):
                event_id = f"{payload.get('number')}-{payload.get('version')}"
                yield f"event: case\nid: {event_id}\ndata: {note.payload}\n\n"
        yield ": heartbeat\n\n"


async def stream(request):
    """GET /api/cases/stream — `event: case` with {op, number, status, grid_code, version} per change."""

    def who():
        user = request.user
        return user if user.is_authenticated else None

    user = await sync_to_async(who)()
    if user is None:
        return JsonResponse(
            {"code": 401, "error": {"zh": "需要登录", "en": "authentication required"}}, status=401
        )
    if _open_streams >= MAX_STREAMS:
        response = error_json(
            429, "实时推送连接过多，请稍后重试", "too many live streams open; try again later"
        )
        response["Retry-After"] = "30"
        return response
    visible = await sync_to_async(_filter_for)(user)
    response = StreamingHttpResponse(_events(visible), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
