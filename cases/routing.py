"""Who acts on a case: the routing rules (data, see models.RoutingRule) applied to one case.

Emergencies go straight to the district command centre, components to their owner department, events
to the locality by severity: 小事不出网格, 一般不出社区, 大事不出街道.  A level that cannot handle a case
escalates it one level up (`escalate_target`).
"""

from __future__ import annotations

from dataclasses import dataclass

LEVEL_CODE_LENGTH = {"grid": 15, "community": 12, "street": 9, "district": 6}
ESCALATION = {"grid": "community", "community": "street", "street": "district", "department": "district"}


@dataclass(frozen=True)
class Rule:
    category_code: str | None
    severity: str
    acts_at: str
    department_kind: str
    principle: str
    priority: int
    note: str = ""


@dataclass(frozen=True)
class Route:
    acts_at: str  # grid / community / street / district / department
    department_kind: str
    principle: str
    note: str

    def assignee_code(self, grid_code: str) -> str:
        n = LEVEL_CODE_LENGTH.get(self.acts_at)
        return grid_code[:n] if n and grid_code else ""


def choose(rules: list[Rule], category_code: str, parent_code: str | None, severity: str) -> Route:
    """The highest-priority rule matching the category (item, its class, or any) and the severity."""
    matching = [
        r
        for r in rules
        if r.category_code in (None, category_code, parent_code) and r.severity in ("", severity)
    ]
    if not matching:
        return Route("district", "", "locality", "无匹配规则，交指挥中心")

    def specificity(r: Rule) -> tuple:
        return (r.priority, r.category_code == category_code, r.category_code is not None, r.severity != "")

    best = max(matching, key=specificity)
    return Route(best.acts_at, best.department_kind, best.principle, best.note)


def escalate_target(level: str) -> str | None:
    return ESCALATION.get(level)


def rules_from_db() -> list[Rule]:
    from .models import RoutingRule

    return [
        Rule(
            r.category.code if r.category_id else None,
            r.severity,
            r.acts_at,
            r.department_kind,
            r.principle,
            r.priority,
            r.note,
        )
        for r in RoutingRule.objects.select_related("category")
    ]


def suggest(case) -> tuple[Route, object | None]:
    """The route for `case` and, for a department route, the department whose service area holds it."""
    from gisapp.accounts.models import Department

    category = case.category
    parent = category.parent.code if category.parent_id else None
    route = choose(rules_from_db(), category.code, parent, case.severity)
    department = None
    if route.acts_at == "department":
        candidates = Department.objects.filter(kind=route.department_kind)
        if case.geom is not None:
            inside = candidates.filter(service_area__contains=case.geom).first()
            department = inside or candidates.filter(service_area__isnull=True).first()
        else:
            department = candidates.filter(service_area__isnull=True).first()
        if department is None:  # nobody owns it here: the locality acts (属地兜底)
            route = Route("community", "", "locality", f"无{route.department_kind}部门覆盖，属地处置")
    return route, department
