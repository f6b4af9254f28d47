"""Rebuild the geocoder's name table now (it is also rebuilt by itself on the first query after a change)."""

from django.core.management.base import BaseCommand

from geocoding import gazetteer


class Command(BaseCommand):
    help = "Rebuild the gazetteer name table (PlaceName) from admin units, roads, estates and aliases."

    def handle(self, *args, **options) -> None:
        n = gazetteer.rebuild()
        self.stdout.write(f"gazetteer rebuilt: {n} names / 地名表已重建：{n} 条")
