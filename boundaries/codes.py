"""Grid codes of new grids: the next free sequences of their community, in reading order.

The standard numbers grids west → east along a band, bands north → south (the rule the demo city is
generated with, `layers.gridorder.reading_order`).  A redraw cannot renumber grids that did not
change — workers, cases and residents know them by code — so only the grids a draft creates are ordered
by that rule, among themselves, and take the sequences after the highest ever used in the community:
codes of closed grid rows and of the retired-code register count as used, so a code is never reused.
Codes are re-sequenced after every operation, so what the draft shows is what publish writes.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from django.db import connection

from layers.gridorder import reading_order
from layers.models import AdminUnit, Net

from .errors import Refusal
from .geometry import Metric, from_db, reading_point
from .models import Draft, DraftGrid

SEQUENCE_DIGITS = 3
KIND_LABEL = {"school": "学校", "hospital": "医院", "enterprise": "企业", "estate": "小区"}


def prefix_of(net: Net, container: AdminUnit, sample_codes: list[str]) -> str:
    """Community nets: the 12-digit community code.  Overlay nets: the district code and the net's tag
    (990102JW…), read from a code the net already uses there."""
    if net.follows_communities:
        return container.code
    for code in sample_codes:
        if len(code) > SEQUENCE_DIGITS:
            return code[:-SEQUENCE_DIGITS]
    return container.code + re.sub(r"[^A-Z]", "", net.code.upper())[:2]


def highest_used(prefix: str) -> int:
    """The highest sequence ever given under `prefix`: any generation's grid rows, and retired codes."""
    pattern = "^" + re.escape(prefix) + f"[0-9]{{{SEQUENCE_DIGITS}}}$"
    with connection.cursor() as cur:
        cur.execute(
            """select coalesce(max(right(code, %(n)s)::int), 0) from (
                 select code from layers_grid where code ~ %(p)s
                 union all select code from boundaries_retiredcode where code ~ %(p)s) c""",
            {"n": SEQUENCE_DIGITS, "p": pattern},
        )
        return int(cur.fetchone()[0])


def auto_name(grid: DraftGrid, net: Net, container: AdminUnit, seq: int) -> str:
    if not net.follows_communities:
        return f"{container.name}第{seq}{net.name}"
    label = KIND_LABEL.get(grid.kind)
    if label:
        return f"{container.name}{label}专属网格"
    return f"{container.name}第{seq}网格"


def renumber(draft: Draft, container_ids: set[int], metric: Metric) -> dict[str, str]:
    """Give the draft's new grids in these containers their final codes; returns old → new codes."""
    changes: dict[str, str] = {}
    if not container_ids:
        return changes
    nets = {n.id: n for n in Net.objects.filter(partition_group=draft.partition_group)}
    units = {u.id: u for u in AdminUnit.objects.filter(id__in=container_ids)}
    rows = list(DraftGrid.objects.filter(draft=draft, container_id__in=container_ids, deleted=False))
    by_container: dict[int, list[DraftGrid]] = defaultdict(list)
    for g in rows:
        by_container[g.container_id].append(g)
    for cid, grids in by_container.items():
        new = [g for g in grids if g.source_id is None]
        if not new:
            continue
        container = units[cid]
        # Nets sharing a prefix (comprehensive + dedicated) share one sequence.
        by_prefix: dict[str, list[DraftGrid]] = defaultdict(list)
        for g in new:
            samples = [x.code for x in grids if x.net_id == g.net_id and x.source_id is not None]
            by_prefix[prefix_of(nets[g.net_id], container, samples)].append(g)
        geoms = {g.pk: from_db(g.geom) for g in grids}
        area = sum(metric.area(s) for s in geoms.values())
        band = math.sqrt(area / max(1, len(grids)))
        for prefix, members in by_prefix.items():
            start = highest_used(prefix)
            order = reading_order([reading_point(geoms[g.pk], metric) for g in members], band)
            if start + len(members) >= 10**SEQUENCE_DIGITS:
                raise Refusal(
                    422,
                    "codes_exhausted",
                    f"{container.name}的网格编码已用完",
                    f"no free grid codes left in {container.code}",
                )
            for seq, i in enumerate(order, start=start + 1):
                g = members[i]
                code = f"{prefix}{seq:0{SEQUENCE_DIGITS}d}"
                fields = []
                if g.code != code:
                    changes[g.code] = code
                    g.code = code
                    fields.append("code")
                if g.auto_name:
                    name = auto_name(g, nets[g.net_id], container, seq)
                    if g.name != name:
                        g.name = name
                        fields.append("name")
                if fields:
                    g.save(update_fields=fields)
    # A provisional code may have moved to another grid: report only real changes.
    return {k: v for k, v in changes.items() if k != v}
