"""Parameter values the case loop's operations parse beyond what their schemas check."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from .errors import CaseError


def parse_time(value: str, name: str) -> dt.datetime:
    """An ISO 8601 time (naive = local), in UTC: Python takes offsets up to ±24 h, PostgreSQL only ±16 h
    ("-21:33" was a 500), and converting first also catches moments that overflow the calendar."""
    try:
        parsed = dt.datetime.fromisoformat(value)
        parsed = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError, TypeError):
        raise CaseError(400, f"{name} 不是有效的时间", f"{name} must be an ISO 8601 date or time") from None
