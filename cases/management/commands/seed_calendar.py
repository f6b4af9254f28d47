"""`./gis manage seed_calendar`: China's statutory holidays and 调休 days into the working calendar."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Seed statutory holidays and 调休 days from chinese-calendar, for years not yet present"

    def handle(self, *args, **options) -> None:
        from cases.calendar import clear_cache
        from cases.models import Holiday
        from cases.seed import seed_holidays

        added = seed_holidays(Holiday)
        clear_cache()
        if added:
            years = ", ".join(f"{year} ({n})" for year, n in sorted(added.items()))
            self.stdout.write(f"working calendar: holidays and 调休 days seeded for {years}")
        elif options["verbosity"] > 1:
            self.stdout.write("working calendar: every year the package knows is already present")
