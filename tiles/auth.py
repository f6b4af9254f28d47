"""Who is asking for a tile: the session cookie or `Authorization: Bearer` token → their jurisdiction.

The hot path runs no Django middleware, so it asks Django's own code directly — `django.contrib.auth.
get_user` on the session (which also checks the session's password hash) and the foundation's
`user_for_token` — and hands the user to `jurisdiction_of`, the one scoping mechanism.  Those calls hit the
database, so their answer is kept for a few seconds per credential (a hash of it, never the secret): a
logout or an expired token takes effect on tiles within `TTL` seconds.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http.cookie import parse_cookie

from gisapp.accounts.jurisdiction import Jurisdiction

TTL = 10.0
MAX_ENTRIES = 10000


@dataclass(frozen=True)
class Credentials:
    session_key: str | None = None
    bearer: str | None = None

    @property
    def present(self) -> bool:
        return bool(self.session_key or self.bearer)

    def cache_key(self) -> str:
        raw = f"b:{self.bearer}" if self.bearer else f"s:{self.session_key}"
        return hashlib.sha256(raw.encode()).hexdigest()


def credentials(headers: list[tuple[bytes, bytes]]) -> Credentials:
    """The bearer token wins over the session cookie, as BearerTokenMiddleware does in Django."""
    session_key = bearer = None
    for name, value in headers:
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                bearer = text[7:].strip() or None
        elif name == b"cookie":
            session_key = (
                parse_cookie(value.decode("latin-1")).get(settings.SESSION_COOKIE_NAME) or session_key
            )
    return Credentials(session_key=None if bearer else session_key, bearer=bearer)


class _SessionRequest:
    """The little of a request that django.contrib.auth.get_user reads."""

    def __init__(self, session) -> None:
        self.session = session


def _resolve(creds: Credentials) -> Jurisdiction | None:
    from importlib import import_module

    from django.contrib.auth import get_user
    from django.db import close_old_connections

    from gisapp.accounts.jurisdiction import jurisdiction_of
    from gisapp.accounts.tokens import user_for_token

    close_old_connections()
    try:
        if creds.bearer:
            user = user_for_token(creds.bearer)
        else:
            store = import_module(settings.SESSION_ENGINE).SessionStore(creds.session_key)
            user = get_user(_SessionRequest(store))
        if user is None or not user.is_authenticated:
            return None
        return jurisdiction_of(user)
    finally:
        close_old_connections()


class Authenticator:
    def __init__(self, ttl: float = TTL) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Jurisdiction | None]] = {}
        self._resolve = sync_to_async(_resolve, thread_sensitive=True)

    async def jurisdiction(self, creds: Credentials) -> Jurisdiction | None:
        """The jurisdiction of a logged-in user, or None for an anonymous (or unknown) one."""
        if not creds.present:
            return None
        key = creds.cache_key()
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await self._resolve(creds)
        if len(self._cache) >= MAX_ENTRIES:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.clear()
        self._cache[key] = (now + self.ttl, value)
        return value
