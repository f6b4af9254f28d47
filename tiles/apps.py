from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TilesConfig(AppConfig):
    name = "tiles"
    verbose_name = "矢量瓦片 Vector tiles"

    def ready(self) -> None:
        from .schema import sync_after_migrate

        # After every `migrate` (./gis up, test database creation): the generalised tables, cluster tables
        # and triggers follow the layer registry, so they are (re)built from it, not from a frozen migration.
        post_migrate.connect(sync_after_migrate, sender=self)
