"""Step deadlines: working hours per category and step, from the active preset, on the working calendar."""

from __future__ import annotations

import datetime as dt

from .calendar import active_calendar, add_working_hours, cached
from .models import DeadlineRule
from .models.calendar import Step

FALLBACK_HOURS = {Step.REGISTER: 2.0, Step.ACCEPT: 4.0, Step.CHECK: 8.0}


def step_hours(category, step: str, preset: str) -> float:
    """Item rule, else its class's rule, else the preset's rule for every category; handling then falls
    back to the category's own deadline_hours (the dictionary's figure)."""
    table = cached(
        "deadline_rules",
        lambda: [(r.preset, r.step, r.category_id, r.hours) for r in DeadlineRule.objects.all()],
    )
    rules = {cat: hours for p, s, cat, hours in table if p == preset and s == step}
    for key in (category.pk, category.parent_id, None):
        if key in rules:
            return rules[key]
    if step == Step.HANDLE:
        return float(category.deadline_hours)
    return FALLBACK_HOURS.get(step, 8.0)


def deadline_for(category, step: str, start: dt.datetime) -> dt.datetime:
    cal, preset = active_calendar()
    return add_working_hours(start, step_hours(category, step, preset), cal)
