"""`Authorization: Bearer …` for the API, beside Django's session login for pages."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from .models import ApiToken, hash_token


def user_for_token(raw: str):
    token = (
        ApiToken.objects.select_related("user", "user__profile")
        .filter(key_hash=hash_token(raw), expires_at__gt=timezone.now(), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    # A token issued while demo mode was on must not outlive it: demo passwords are public.
    profile = getattr(token.user, "profile", None)
    if profile is not None and profile.is_demo and not settings.DEMO_MODE:
        return None
    return token.user


class BearerTokenMiddleware:
    """A valid bearer token authenticates the request; an invalid one leaves it anonymous (→ 401 later)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            raw = header[7:].strip()
            request.user = SimpleLazyObject(lambda: user_for_token(raw) or AnonymousUser())
            request._dont_enforce_csrf_checks = True  # token requests carry no cookie to forge
        return self.get_response(request)
