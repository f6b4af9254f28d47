"""Idempotency keys for every create of the API (`idempotent(scope)`), beside the cases' own keys.

A phone on a weak signal, a script that timed out, a server that restarted mid-request: the client sends
the same request again with the same `Idempotency-Key` header and must not create a second draft, job or
campaign.  The decorated view runs in one transaction together with the row that remembers its answer
(gisapp.idempotency.models), so a retry finds either both or neither.  Two concurrent requests with one
key queue on the key's unique index: the second waits for the first to commit and then replays it.
Only successful answers are remembered; a refusal rolls back and the client may correct and resend.

Cases keep their key on the case row itself (cases.services.create_case): the same guarantees, one row.
"""

from __future__ import annotations

import functools
import hashlib
import random
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

HEADER = "Idempotency-Key"
KEEP = timedelta(days=2)  # long enough for any retry; older answers are forgotten now and then


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()


def key_error(key: str) -> HttpResponse | None:
    """The 400 for a malformed key (1–100 printable ASCII characters), else None."""
    from gisapp.views import error_json

    if not 1 <= len(key) <= 100 or not all(" " <= c <= "~" for c in key):
        return error_json(
            400,
            "Idempotency-Key 应为 1–100 个可打印 ASCII 字符",
            "Idempotency-Key must be 1–100 printable ASCII characters",
        )
    return None


def idempotent(scope: str):
    """Decorate a view whose POST creates something: honour the Idempotency-Key header."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            key = request.headers.get(HEADER)
            if request.method != "POST" or key is None:
                return view(request, *args, **kwargs)
            return _run(scope, key, view, request, args, kwargs)

        return wrapper

    return decorate


def _run(scope: str, key: str, view, request: HttpRequest, args, kwargs) -> HttpResponse:
    from gisapp.views import error_json

    from .models import IdempotentRequest

    refusal = key_error(key)
    if refusal is not None:
        return refusal
    owner = request.user if request.user.is_authenticated else None
    key_hash = _digest(key.encode())
    fingerprint = _digest(request.method.encode(), request.get_full_path().encode(), request.body)
    lookup = {"scope": scope, "owner": owner, "key_hash": key_hash}
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(
                    **lookup, fingerprint=fingerprint, status=0, content_type="", body=b""
                )
        except IntegrityError:
            # The first request with this key committed while this one waited on the unique index.
            done = IdempotentRequest.objects.filter(**lookup).first()
            if done is None:  # it rolled back meanwhile: nothing was made, so say so and let the client retry
                return error_json(
                    409, "同一请求正在处理，请稍后重试", "the same request is in progress; retry"
                )
            if done.fingerprint != fingerprint:
                return error_json(
                    422,
                    "该 Idempotency-Key 已用于另一个不同的请求",
                    "this Idempotency-Key was already used for a different request",
                )
            response = HttpResponse(bytes(done.body), status=done.status, content_type=done.content_type)
            response["Idempotent-Replayed"] = "true"
            return response
        response = view(request, *args, **kwargs)
        if not 200 <= response.status_code < 300 or getattr(response, "streaming", False):
            transaction.set_rollback(True)  # nothing is remembered, and nothing the view wrote stays
            return response
        record.status = response.status_code
        record.content_type = response.get("Content-Type", "application/json")
        record.body = response.content
        record.save(update_fields=["status", "content_type", "body"])
        if random.random() < 0.01:
            IdempotentRequest.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
    return response
