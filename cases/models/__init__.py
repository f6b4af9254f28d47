"""The case loop's data: categories, cases, their append-only trail, routing, deadlines, campaigns."""

from .calendar import DeadlineRule, Holiday, WorkingCalendar
from .campaigns import Campaign, CampaignProgress
from .case import Case, CaseStatus, Channel
from .category import Category
from .open311 import Open311Client
from .routing import RoutingRule
from .trail import Attachment, CaseEvent

__all__ = [
    "Attachment",
    "Campaign",
    "CampaignProgress",
    "Case",
    "CaseEvent",
    "CaseStatus",
    "Category",
    "Channel",
    "DeadlineRule",
    "Holiday",
    "Open311Client",
    "RoutingRule",
    "WorkingCalendar",
]
