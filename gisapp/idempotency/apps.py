from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    """Idempotency keys for the API's creates: a retried request answers what the first one did."""

    name = "gisapp.idempotency"
    label = "idempotency"
    verbose_name = "幂等请求 Idempotent requests"
    default_auto_field = "django.db.models.BigAutoField"
