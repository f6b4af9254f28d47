"""Undo within a draft: the last accepted operation is taken back, exactly.

Each operation stores, beside what it did, the rows it wrote as they were before (geometry as EWKB, so
every vertex comes back to the bit), the rows it created and the codes renumbering changed.  Undo restores
those and deletes the operation from the trail, so a second undo takes back the one before: the draft
walks back through its own history, never into a state it was not in.  Replaying the log from the base
generation instead would not do: codes of new grids depend on what was ever used in the community, which
another planner's publish can change in between.
"""

from __future__ import annotations

from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction

from .drafts import editable, touch
from .errors import Refusal
from .models import Draft, DraftGrid, Operation


def undo_last(draft: Draft) -> tuple[Operation, list[int]]:
    """Take back the draft's last operation; returns it (no longer stored) and the units it touched."""
    with transaction.atomic():
        draft = Draft.objects.select_for_update().get(pk=draft.pk)
        editable(draft)
        last = draft.operations.order_by("-seq").first()
        if last is None:
            raise Refusal(
                409, "nothing_to_undo", "草稿没有可撤销的操作", "the draft has no operation to undo"
            )
        state = last.undo or {}
        if "rows" not in state:
            raise Refusal(
                409,
                "cannot_undo",
                f"第 {last.seq} 步操作没有保存撤销所需的状态",
                f"operation {last.seq} was stored without the state needed to undo it",
            )
        DraftGrid.objects.filter(draft=draft, pk__in=state.get("created", [])).delete()
        for pk, row in state["rows"].items():
            DraftGrid.objects.filter(draft=draft, pk=int(pk)).update(
                geom=GEOSGeometry(row["geom"]), changed=row["changed"], deleted=row["deleted"]
            )
        for pk, (code, name) in state.get("codes", {}).items():
            DraftGrid.objects.filter(draft=draft, pk=int(pk)).update(code=code, name=name)
        last.delete()
        touch(draft)
    return last, list(state.get("containers", []))
