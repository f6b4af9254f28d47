"""A fixed-window rate limit per client IP for the anonymous endpoints: public reports and their status,
the public look-ups (geocoder, reverse geocoder, "Where am I?", Open311 reads) and token requests.

One upsert per request (`INSERT … ON CONFLICT … RETURNING count`) on a table shared by all workers, so a
client cannot multiply its allowance by the number of uvicorn processes.  Limits come from settings as
"N/SECONDS" strings so that a deployment (or a test) can change them without code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone

DEFAULTS = {
    "public_report": "10/600",  # ten reports per ten minutes from one address (an office behind NAT)
    "public_status": "120/60",  # status look-ups: enough for a person, too few to enumerate numbers
    # Anonymous searches and "Where am I?": a search box typing fast, an office behind one address;
    # signed-in staff are not counted (their use is their work, and attributable).
    "public_lookup": "600/60",
    "token": "30/300",  # failed password attempts at POST /api/auth/token, per address
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the window ends


def _limit(scope: str) -> tuple[int, int]:
    configured = getattr(settings, "ONENET_RATE_LIMITS", {}) or {}
    raw = configured.get(scope) or DEFAULTS[scope]
    n, seconds = raw.split("/")
    return int(n), int(seconds)


def client_ip(request) -> str:
    """REMOTE_ADDR: behind a reverse proxy, the proxy must pass the client's address (uvicorn's
    --proxy-headers with --forwarded-allow-ips does it), rather than trusting any X-Forwarded-For."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def client_key(request) -> str:
    salt = settings.SECRET_KEY.encode()
    return hashlib.sha256(salt + b"|" + client_ip(request).encode()).hexdigest()[:32]


def hit(request, scope: str) -> Verdict:
    """Count this request in its window and tell whether it is within the limit."""
    limit, seconds = _limit(scope)
    now = timezone.now()
    epoch = int(now.timestamp())
    start = epoch - epoch % seconds
    window_start = dt.datetime.fromtimestamp(start, tz=dt.UTC)
    with connection.cursor() as cur:
        cur.execute(
            """
            insert into frontend_ratelimitbucket (scope, client, window_start, count)
            values (%s, %s, %s, 1)
            on conflict (scope, client, window_start)
            do update set count = frontend_ratelimitbucket.count + 1
            returning count
            """,
            [scope, client_key(request), window_start],
        )
        count = cur.fetchone()[0]
        if random.random() < 0.01:  # now and then, forget windows that ended long ago
            cur.execute(
                "delete from frontend_ratelimitbucket where window_start < %s",
                [now - dt.timedelta(days=1)],
            )
    return Verdict(count <= limit, count, limit, max(1, start + seconds - epoch))


def exceeded(request, scope: str) -> Verdict | None:
    """The verdict when this address is already over `scope`'s limit in the current window, without
    counting this request (for limits that count only failures, such as wrong passwords); else None."""
    limit, seconds = _limit(scope)
    epoch = int(timezone.now().timestamp())
    start = epoch - epoch % seconds
    with connection.cursor() as cur:
        cur.execute(
            "select count from frontend_ratelimitbucket "
            "where scope = %s and client = %s and window_start = %s",
            [scope, client_key(request), dt.datetime.fromtimestamp(start, tz=dt.UTC)],
        )
        row = cur.fetchone()
    if row is None or row[0] < limit:
        return None
    return Verdict(False, row[0], limit, max(1, start + seconds - epoch))


def too_many(verdict: Verdict) -> JsonResponse:
    """The 429 for a request over its limit, with Retry-After."""
    from gisapp.views import error_json

    response = error_json(
        429,
        f"请求过于频繁，请 {verdict.retry_after} 秒后再试",
        f"too many requests; try again in {verdict.retry_after} s",
    )
    response["Retry-After"] = str(verdict.retry_after)
    return response


def refused(request, scope: str, anonymous_only: bool = False) -> JsonResponse | None:
    """Count the request against `scope`: the 429 to answer when it is over the limit, else None.
    `anonymous_only`: signed-in users are not counted."""
    user = getattr(request, "user", None)
    if anonymous_only and user is not None and user.is_authenticated:
        return None
    verdict = hit(request, scope)
    return None if verdict.allowed else too_many(verdict)
