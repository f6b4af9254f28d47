"""The counters of the rate limits (gisapp.ratelimit)."""

from __future__ import annotations

from django.db import models


class RateLimitBucket(models.Model):
    """Requests of one client in one fixed time window.

    Kept in PostgreSQL rather than in a per-process cache so that every uvicorn worker counts against the
    same limit.  The client is a salted hash of its IP address, never the address itself: the table must
    not become a log of who reported what.
    """

    scope = models.CharField(max_length=32)
    client = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        # The table was made when the map pages owned the limits; its name stays so that moving the model
        # between apps is a change of Django's bookkeeping only, not of the database.
        db_table = "frontend_ratelimitbucket"
        constraints = [
            models.UniqueConstraint(fields=["scope", "client", "window_start"], name="ratelimit_window_uniq")
        ]
        indexes = [models.Index(fields=["window_start"], name="ratelimit_window_idx")]
