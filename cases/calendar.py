"""Working-time arithmetic: deadlines in working hours on a calendar with weekends and holidays.

The days come from the database (Holiday rows: statutory holidays and 调休, the weekend days worked in
exchange, seeded from the `chinese-calendar` package by `seed_calendar`, editable in the admin).  The
arithmetic over them is hand-written: working periods within a day (08:30–12:00, 13:30–17:30) are not
something business-day libraries count in, and it is small.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class CalendarSpec:
    periods: tuple[tuple[dt.time, dt.time], ...] = (
        (dt.time(8, 30), dt.time(12)),
        (dt.time(13, 30), dt.time(17, 30)),
    )
    weekend: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    workdays: frozenset[dt.date] = field(default_factory=frozenset)  # weekend days worked (调休)

    def is_workday(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() not in self.weekend and day not in self.holidays

    @property
    def hours_per_day(self) -> float:
        return sum(_hours(a, b) for a, b in self.periods)


def _hours(a: dt.time, b: dt.time) -> float:
    return (dt.datetime.combine(dt.date.min, b) - dt.datetime.combine(dt.date.min, a)).total_seconds() / 3600


def add_working_hours(start: dt.datetime, hours: float, cal: CalendarSpec) -> dt.datetime:
    """The moment `hours` working hours after `start` (aware); work outside periods counts from the next."""
    local = start.astimezone(LOCAL)
    remaining = dt.timedelta(hours=hours)
    day = local.date()
    for _ in range(3700):  # ten years of days: a guard, never reached by real deadlines
        if cal.is_workday(day):
            for a, b in cal.periods:
                begin = dt.datetime.combine(day, a, LOCAL)
                end = dt.datetime.combine(day, b, LOCAL)
                begin = max(begin, local)
                if begin >= end:
                    continue
                if begin + remaining <= end:
                    return (begin + remaining).astimezone(dt.UTC)
                remaining -= end - begin
        day += dt.timedelta(days=1)
    raise ValueError("deadline beyond ten years")


def working_hours_between(start: dt.datetime, end: dt.datetime, cal: CalendarSpec) -> float:
    """Working hours from `start` to `end` (0 when end <= start)."""
    if end <= start:
        return 0.0
    a_local, b_local = start.astimezone(LOCAL), end.astimezone(LOCAL)
    total = dt.timedelta()
    day = a_local.date()
    while day <= b_local.date():
        if cal.is_workday(day):
            for a, b in cal.periods:
                lo = max(dt.datetime.combine(day, a, LOCAL), a_local)
                hi = min(dt.datetime.combine(day, b, LOCAL), b_local)
                if hi > lo:
                    total += hi - lo
        day += dt.timedelta(days=1)
    return total.total_seconds() / 3600


_CACHE: dict[str, tuple[float, object]] = {}
CACHE_SECONDS = 30.0  # calendars change a few times a year; an edit reaches every process within this


def cached(key: str, load):
    """A per-process memo with a short lifetime, for rules read on every case but edited rarely."""
    import time

    hit = _CACHE.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    value = load()
    _CACHE[key] = (now, value)
    return value


def active_calendar() -> tuple[CalendarSpec, str]:
    """The active WorkingCalendar with its holidays, and its deadline preset (memoised briefly)."""
    return cached("calendar", _load_calendar)


def clear_cache() -> None:
    _CACHE.clear()


def _load_calendar() -> tuple[CalendarSpec, str]:
    from .models import Holiday, WorkingCalendar

    wc = WorkingCalendar.objects.filter(active=True).order_by("id").first()
    holidays = Holiday.objects.values_list("date", "workday")
    off = frozenset(d for d, work in holidays if not work)
    on = frozenset(d for d, work in holidays if work)
    if wc is None:
        return CalendarSpec(holidays=off, workdays=on), "default"
    periods = tuple((dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in wc.periods)
    return CalendarSpec(periods, frozenset(wc.weekend), off, on), wc.deadline_preset


def light(now: dt.datetime, step_started: dt.datetime | None, deadline: dt.datetime | None) -> str:
    """Progress light: red overdue, yellow in the last quarter of the step's time, green otherwise."""
    if deadline is None:
        return "green"
    if now > deadline:
        return "red"
    if step_started is not None and now >= deadline - (deadline - step_started) * 0.25:
        return "yellow"
    return "green"
