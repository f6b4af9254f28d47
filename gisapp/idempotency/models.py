"""What a request sent with an Idempotency-Key answered, so that its retry answers the same."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotentRequest(models.Model):
    """One key of one client for one kind of create, and the response it got.

    The row is written in the same transaction as whatever the request created: after a crash either both
    exist (the retry is answered from here) or neither does (the retry does the work).  The key itself is
    stored only as a digest, like tokens, and is scoped to its owner so that one client can never read
    another's answer by guessing a key."""

    scope = models.CharField(max_length=32)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    key_hash = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)  # digest of method, path and body: a reused key is caught
    status = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "owner", "key_hash"], name="idempotent_key_uniq", nulls_distinct=False
            )
        ]
