"""Live updates: a dispatcher's screen subscribes to new and changed cases with Server-Sent Events.

The source is PostgreSQL itself: a trigger on cases_case NOTIFYs channel `onenet_cases` (migration 0004)
whatever wrote the row — this API, Open311, the admin, a batch import — so no broker is needed and no
writer can forget to publish.  Each subscriber holds one LISTEN connection and gets only the cases inside
its jurisdiction.  SSE rather than WebSocket: one-way, plain HTTP, reconnects by itself in every browser.
"""

from __future__ import annotations

import json

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse

from gisapp.accounts.jurisdiction import jurisdiction_of

CHANNEL = "onenet_cases"
HEARTBEAT_S = 15.0


def _conninfo() -> str:
    db = settings.DATABASES["default"]
    parts = {
        "dbname": db["NAME"],
        "user": db.get("USER") or "",
        "password": db.get("PASSWORD") or "",
        "host": db.get("HOST") or "",
        "port": str(db.get("PORT") or ""),
    }
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v})


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
    async with await psycopg.AsyncConnection.connect(_conninfo(), autocommit=True) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        yield "retry: 3000\n\n"
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
    visible = await sync_to_async(_filter_for)(user)
    response = StreamingHttpResponse(_events(visible), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
