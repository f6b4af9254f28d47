from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BoundariesConfig(AppConfig):
    name = "boundaries"
    verbose_name = _("网格边界调整")
    default_auto_field = "django.db.models.BigAutoField"
