"""Publishing a draft: one transaction that makes the new boundaries the ones in force everywhere.

In order, under a row lock on the group's nets (so two publishes of one group queue instead of racing):
refuse a stale draft (409) or one with validation errors (422); give new grids their final codes; close
the published rows that changed (generation_high = old number) and open new rows (generation_low = new
number); supersede the old generation and publish the new one; move buildings, party organisations,
service stations and open cases to the grid now holding them (closed cases keep the grid they were
handled in); move grid workers and grid-worker accounts off retired codes; register retired codes; write
one audit record.  Tile caches follow from the rows written here (the tiles app watches these tables).
"""

from __future__ import annotations

import time

from django.db import connection, transaction

from gisapp.accounts.models import Profile
from layers.models import Generation, GenerationStatus, GridWorker
from layers.models.grids import database_now

from .codes import renumber
from .drafts import generations_in_force, group_nets
from .errors import Refusal
from .geometry import metric_of
from .impact import LAYERS, code_changes, people, point_moves
from .models import BoundaryChange, Draft, DraftGrid, DraftStatus, RetiredCode
from .validation import validate


def _write_moves(layer: str, table: str) -> int:
    """Write the new grid codes counted by the preview (temporary table bnd_mv_<layer>)."""
    with connection.cursor() as cur:
        cur.execute(
            f"update {table} x set grid_code = m.new_code from bnd_mv_{layer} m "
            f"where x.id = m.id and m.new_code is not null"
        )
        moved = cur.rowcount
        cur.execute(f"drop table bnd_mv_{layer}")
        return moved


def publish(draft: Draft, user, note: str, workers: dict[str, str] | None = None) -> BoundaryChange:
    """Publish `draft`; `workers` maps grid-worker ids to the code they move to (default: the successor
    grid that took over most of their retired grid's area)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - started - sum(timings.values()), 3)

    if not isinstance(note, str) or not note.strip():
        raise Refusal(400, "note_required", "发布时必须填写说明", "a note is required to publish")
    with transaction.atomic():
        nets = group_nets(draft.partition_group)
        # Serialise publishes of one partition group: the second waits here, then finds its draft stale.
        list(type(nets[0]).objects.select_for_update().filter(pk__in=[n.pk for n in nets]))
        draft = Draft.objects.select_for_update().get(pk=draft.pk)
        if draft.status in (DraftStatus.PUBLISHED, DraftStatus.DISCARDED):
            raise Refusal(
                409,
                "draft_closed",
                f"草稿已{draft.get_status_display()}",
                f"the draft is already {draft.status}",
            )
        in_force = generations_in_force(nets)
        if in_force != draft.base_generations:
            raise Refusal(
                409,
                "stale_draft",
                "草稿所基于的边界版本已被他人发布的新版本取代，请重新打开草稿后再调整",
                "the draft is based on a generation that is no longer in force (someone else published); "
                "open a new draft",
                base=draft.base_generations,
                in_force=in_force,
            )
        metric = metric_of(draft)
        lap("lock")
        renumber(draft, set(draft.containers), metric)
        lap("codes")
        result = validate(draft, record=False)
        lap("validate")
        if not result["ok"]:
            raise Refusal(
                422,
                "invalid_draft",
                f"草稿有 {result['errors']} 个错误，不能发布",
                f"the draft has {result['errors']} errors and cannot be published",
                validation=result,
            )
        codes = code_changes(draft)
        preview = point_moves(draft, keep=True)
        staff = people(codes)
        lap("impact")
        # The transaction's own clock: every statement of this transaction (and the tile SQL, which asks
        # the database which generation is in force at now()) sees the new generation as in force.
        now = database_now()
        generations: dict[str, list[int]] = {}
        for net in nets:
            old = in_force[net.code]
            Generation.objects.filter(net=net, number=old).update(status=GenerationStatus.SUPERSEDED)
            Generation.objects.create(
                net=net,
                number=old + 1,
                status=GenerationStatus.PUBLISHED,
                effective_from=now,
                note=note.strip(),
            )
            generations[net.code] = [old, old + 1]
        numbers = {n.pk: generations[n.code] for n in nets}
        with connection.cursor() as cur:
            # Close the published rows the draft changed or removed …
            cur.execute(
                """update layers_grid g set generation_high = v.old
                   from boundaries_draftgrid d
                   join unnest(%(nets)s::bigint[], %(old)s::int[]) v(net_id, old) on v.net_id = d.net_id
                   where d.draft_id = %(draft)s and d.source_id = g.id and (d.changed or d.deleted)""",
                {"draft": draft.pk, "nets": list(numbers), "old": [v[0] for v in numbers.values()]},
            )
            closed = cur.rowcount
            # … and open rows for the changed and new grids.
            cur.execute(
                """insert into layers_grid (net_id, code, name, kind, community_id, district_id,
                       target_households, generation_low, generation_high, geom)
                   select d.net_id, d.code, d.name, d.kind, d.community_id, d.district_id,
                          d.target_households,
                          v.new, null, d.geom
                   from boundaries_draftgrid d
                   join unnest(%(nets)s::bigint[], %(new)s::int[]) v(net_id, new) on v.net_id = d.net_id
                   where d.draft_id = %(draft)s and not d.deleted and d.changed""",
                {"draft": draft.pk, "nets": list(numbers), "new": [v[1] for v in numbers.values()]},
            )
            opened = cur.rowcount
        lap("grid_rows")
        moved: dict[str, int] = {}
        for layer, (table, *_rest) in LAYERS.items():
            if layer in preview:
                moved[layer] = _write_moves(layer, table)
        lap("reassign")
        reassigned = _move_people(staff, workers or {}, draft)
        change = BoundaryChange.objects.create(
            draft=draft,
            partition_group=draft.partition_group,
            area=draft.area,
            generations=generations,
            published_by=user if user is not None and user.is_authenticated else None,
            published_at=now,
            note=note.strip(),
            summary={
                "codes": codes,
                "rows": {"closed": closed, "opened": opened},
                "moved": moved,
                "impact": {
                    k: {kk: vv for kk, vv in v.items() if kk not in ("moves", "truncated", "items")}
                    for k, v in preview.items()
                },
                "workers": reassigned,
                "validation": {"errors": result["errors"], "warnings": result["warnings"]},
                "seconds": round(time.perf_counter() - started, 3),
                "timings": timings,
            },
        )
        for r in codes["retired"]:
            RetiredCode.objects.create(
                net_id=DraftGrid.objects.filter(draft=draft, code=r["code"]).values_list("net_id", flat=True)[
                    0
                ],
                code=r["code"],
                last_generation=generations[r["net"]][0],
                change=change,
                successors=r["successors"],
                retired_at=now,
            )
        draft.status = DraftStatus.PUBLISHED
        draft.updated_at = now
        draft.save(update_fields=["status", "updated_at"])
    return change


def _move_people(staff: dict, requested: dict[str, str], draft: Draft) -> list[dict]:
    """Workers of retired codes follow the requested or the suggested grid; other workers of the draft's
    grids move only when asked.  Grid-worker accounts scoped to a retired code follow too."""
    live = set(DraftGrid.objects.filter(draft=draft, deleted=False).values_list("code", flat=True))
    base = set(DraftGrid.objects.filter(draft=draft, source__isnull=False).values_list("code", flat=True))
    if not isinstance(requested, dict):
        raise Refusal(
            400, "bad_request", "workers 应为 {网格员id: 网格编码}", "workers must map worker ids to codes"
        )
    plan: dict[int, str | None] = {w["id"]: w["suggested"] for w in staff["grid_workers"]}
    codes = dict(
        GridWorker.objects.filter(pk__in=[int(k) for k in requested if str(k).isdigit()]).values_list(
            "pk", "grid_code"
        )
    )
    codes.update({w["id"]: w["grid_code"] for w in staff["grid_workers"]})
    for key, target in requested.items():
        wid = int(key) if str(key).isdigit() else None
        if wid not in codes or codes[wid] not in base:
            raise Refusal(
                422,
                "bad_worker",
                f"网格员 {key} 不属于本草稿的网格",
                f"grid worker {key} does not work in a grid of this draft",
            )
        plan[wid] = target
    out = []
    for wid, target in plan.items():
        if target not in live:
            raise Refusal(
                422,
                "bad_worker_target",
                f"网格员 {wid} 的新网格 {target} 不在草稿中",
                f"grid worker {wid} cannot move to {target}: not a grid of the draft",
            )
        if codes[wid] == target:
            continue
        Profile.objects.filter(user__grid_worker__pk=wid, jurisdiction_code=codes[wid]).update(
            jurisdiction_code=target
        )
        out.append({"id": wid, "from": codes[wid], "to": target})
        GridWorker.objects.filter(pk=wid).update(grid_code=target)
    for u in staff["users"]:
        if u["suggested"]:
            Profile.objects.filter(
                user__username=u["username"], jurisdiction_code=u["jurisdiction_code"]
            ).update(jurisdiction_code=u["suggested"])
    return out
