"""A case as the API shows it: the same shape for the REST API, live updates and the map pages."""

from __future__ import annotations

from django.utils import timezone

from layers.masking import mask_phone

from .calendar import light
from .models import Case
from .models.case import FINAL_STATES


def case_light(case: Case, now=None) -> str | None:
    """green / yellow / red for open cases; for finished ones, whether they were closed on time."""
    if case.status in FINAL_STATES:
        if case.closed_at and case.due_at:
            return "green" if case.closed_at <= case.due_at else "red"
        return None
    return light(now or timezone.now(), case.step_started_at, case.deadline)


def _iso(value):
    return value.isoformat() if value else None


def case_json(
    case: Case, user=None, detail: bool = False, events: list | None = None, attachments: list | None = None
) -> dict:
    """The case's JSON; `detail` adds the trail, attachments, duplicates and what `user` may do next.

    A case created by this very request passes the events and attachments it wrote (`events`,
    `attachments`): reporting is the hottest path (50 reports/s in bench/intake) and re-reading what
    was just written costs two queries per report.
    """
    from .services import duplicate_candidates, relations
    from .workflow import available

    out = {
        "number": case.number,
        "status": case.status,
        "status_label": case.get_status_display(),
        "category": case.category.code,
        "category_name": case.category.name,
        "severity": case.severity,
        "channel": case.channel,
        "description": case.description,
        "address": case.address,
        "lon": case.geom.x if case.geom else None,
        "lat": case.geom.y if case.geom else None,
        "crs": "EPSG:4490",
        "building_id": case.building_id,
        "grid_code": case.grid_code or None,
        "grids": case.grids,
        "community_code": case.grid_code[:12] or None,
        "street_code": case.grid_code[:9] or None,
        "district_code": case.grid_code[:6] or None,
        "needs_placement": case.needs_placement,
        "assignee": {
            "level": case.assignee_level or None,
            "code": case.assignee_code or None,
            "department": case.department.name if case.department_id else None,
        },
        "deadline": _iso(case.deadline),
        "due_at": _iso(case.due_at),
        "light": case_light(case),
        "reported_at": _iso(case.reported_at),
        "closed_at": _iso(case.closed_at),
        "result": case.result,
        "rating": case.rating,
        "merged_into": case.duplicate_of.number if case.duplicate_of_id else None,
        "version": case.version,
    }
    if detail:
        out["reporter_contact"] = mask_phone(case.reporter_contact) if case.reporter_contact else ""
        out["extension_requested_hours"] = case.extension_requested_hours
        if attachments is None:
            attachments = list(case.attachments.all())  # one query serves the list and every trail row
        if events is None:
            events = case.events.select_related("actor").order_by("at", "id")
        by_event: dict[int, list[int]] = {}
        for a in attachments:
            if a.event_id is not None:
                by_event.setdefault(a.event_id, []).append(a.pk)
        out["trail"] = [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "from": e.from_status or None,
                "to": e.to_status or None,
                "actor": e.actor.username if e.actor_id else None,
                "role": e.actor_role,
                "changes": e.changes,
                "comment": e.comment,
                "lon": e.geom.x if e.geom else None,
                "lat": e.geom.y if e.geom else None,
                "attachments": by_event.get(e.pk, []),
            }
            for e in events
        ]
        out["attachments"] = [
            {
                "id": a.pk,
                "content_type": a.content_type,
                "size": a.size,
                "url": f"/api/cases/{case.number}/attachments/{a.pk}",
            }
            for a in attachments
        ]
        if case.is_open:
            # a case just received carries the candidates found while receiving it: no second query
            known = getattr(case, "duplicate_numbers", None)
            out["duplicate_candidates"] = (
                known
                if known is not None
                else list(duplicate_candidates(case).values_list("number", flat=True)[:10])
            )
        if user is not None:
            rel = relations(user, case)
            out["transitions"] = [t.name for t in available(case.status, rel)]
            out["relations"] = sorted(rel)
    return out
