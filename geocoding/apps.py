from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GeocodingConfig(AppConfig):
    name = "geocoding"
    verbose_name = _("地理编码")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_delete, post_save

        from . import checks, gazetteer
        from .models import Alias

        connection_created.connect(checks.refuse_non_utf8_ctype, dispatch_uid="geocoding-utf8-ctype")
        # An alias edited in this process is visible to the next query here at once; other processes see the
        # source token the database trigger changed.
        post_save.connect(gazetteer.invalidate, sender=Alias, dispatch_uid="geocoding-alias-save")
        post_delete.connect(gazetteer.invalidate, sender=Alias, dispatch_uid="geocoding-alias-delete")
