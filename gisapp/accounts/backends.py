"""Password login that refuses demo accounts outside demo mode (pages and API alike)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class OneNetBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        profile = getattr(user, "profile", None)
        return settings.DEMO_MODE or profile is None or not profile.is_demo
