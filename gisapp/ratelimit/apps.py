from django.apps import AppConfig


class RateLimitConfig(AppConfig):
    """Per-client budgets of the anonymous endpoints, counted in PostgreSQL for every worker at once."""

    name = "gisapp.ratelimit"
    label = "ratelimit"
    verbose_name = "访问频率限制 Rate limits"
    default_auto_field = "django.db.models.BigAutoField"
