from django.apps import AppConfig


class FrontendConfig(AppConfig):
    """The map pages: the dispatcher's big screen (/dispatch/) and the public map (/)."""

    name = "frontend"
    verbose_name = "地图页面 Map pages"
    default_auto_field = "django.db.models.BigAutoField"
