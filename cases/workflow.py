"""The case loop (六步闭环) as one table: every transition, who may make it, what it needs, where it leads.

Read the table, not the code, to know the loop.  `actor` names a relation between the user and the case
(see `cases.services.relations`), not just a role, because the same role may act on one case and not
another: a grid worker acts only on cases assigned to their own grid.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models.calendar import Step
from .models.case import CaseStatus as S


@dataclass(frozen=True)
class Transition:
    name: str
    label: str  # Chinese label shown to users
    sources: tuple[str, ...]
    target: str | None  # None: the status does not change (comment, extension request …)
    actors: tuple[str, ...]  # relations allowed to make it (see services.relations)
    requires: tuple[str, ...] = ()  # payload fields that must be present and non-empty
    step: str | None = None  # the step whose deadline starts when the transition lands
    note: str = ""


OPEN = (S.REPORTED, S.REGISTERED, S.DISPATCHED, S.IN_PROGRESS, S.HANDLED, S.RETURNED)

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        Transition(
            "register",
            "核实立案",
            (S.REPORTED,),
            S.REGISTERED,
            ("dispatcher",),
            step=None,
            note="verified; category and severity may be corrected",
        ),
        Transition("reject", "不予立案", (S.REPORTED,), S.REJECTED, ("dispatcher",), ("reason",)),
        Transition(
            "merge",
            "合并重复",
            (S.REPORTED, S.REGISTERED),
            S.MERGED,
            ("dispatcher",),
            ("into",),
            note="the merged reporters get the outcome of the case merged into",
        ),
        Transition(
            "dispatch",
            "指挥派遣",
            (S.REGISTERED, S.RETURNED),
            S.DISPATCHED,
            ("dispatcher",),
            step=Step.ACCEPT,
            note="to a grid, community, street, district or department; "
            "the routing suggestion is used when no assignee is given",
        ),
        Transition("accept", "签收", (S.DISPATCHED,), S.IN_PROGRESS, ("assignee",), step=Step.HANDLE),
        Transition(
            "return",
            "回退",
            (S.DISPATCHED, S.IN_PROGRESS),
            S.RETURNED,
            ("assignee",),
            ("reason",),
            step=Step.REGISTER,
            note="mis-dispatched: back to the dispatcher",
        ),
        Transition(
            "escalate",
            "上报上级",
            (S.DISPATCHED, S.IN_PROGRESS),
            S.DISPATCHED,
            ("assignee",),
            ("reason",),
            step=Step.ACCEPT,
            note="this level cannot handle it: one level up",
        ),
        Transition(
            "request_extension", "申请延期", (S.IN_PROGRESS,), None, ("assignee",), ("reason", "hours")
        ),
        Transition(
            "grant_extension",
            "批准延期",
            (S.IN_PROGRESS,),
            None,
            ("dispatcher",),
            note="the pending request's hours are added to the deadline",
        ),
        Transition("deny_extension", "驳回延期", (S.IN_PROGRESS,), None, ("dispatcher",), ("reason",)),
        Transition(
            "handle", "处置反馈", (S.IN_PROGRESS,), S.HANDLED, ("assignee",), ("result",), step=Step.CHECK
        ),
        Transition("close", "核查结案", (S.HANDLED,), S.CLOSED, ("checker",)),
        Transition(
            "rework", "返工", (S.HANDLED,), S.IN_PROGRESS, ("checker",), ("reason",), step=Step.HANDLE
        ),
        Transition(
            "resolve_on_spot",
            "现场处置结案",
            (S.REPORTED,),
            S.CLOSED,
            ("grid_worker_here",),
            ("result",),
            note="小事不出网格: the grid worker handles and closes it on the spot",
        ),
        Transition("evaluate", "评价", (S.CLOSED,), S.EVALUATED, ("reporter", "dispatcher"), ("rating",)),
        Transition(
            "comment",
            "备注",
            (*OPEN,),
            None,
            ("dispatcher", "assignee", "grid_worker_here", "reporter"),
            ("comment",),
        ),
        Transition(
            "relocate",
            "重新定位",
            (S.REPORTED, S.REGISTERED, S.RETURNED),
            None,
            ("dispatcher",),
            ("location",),
            note="the 'place me' queue: a dispatcher drops the case on the map",
        ),
    ]
}


def available(status: str, relations: set[str]) -> list[Transition]:
    """Transitions a user with these relations to a case may make from `status`."""
    return [t for t in TRANSITIONS.values() if status in t.sources and relations & set(t.actors)]
