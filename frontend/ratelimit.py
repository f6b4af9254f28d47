"""A fixed-window rate limit per client IP for the anonymous endpoints (public reports, public status).

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
from django.utils import timezone

DEFAULTS = {
    "public_report": "10/600",  # ten reports per ten minutes from one address (an office behind NAT)
    "public_status": "120/60",  # status look-ups: enough for a person, too few to enumerate numbers
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
