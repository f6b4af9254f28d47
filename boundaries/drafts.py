"""Opening a draft: who may, over which units, from which generation.

A draft copies, in one statement, every grid in force of the named net's partition group inside the area
(all communities of a street, say), together with the generation numbers it was copied from.  Publishing
later compares those numbers with the ones in force: a draft made before someone else's publish is stale.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from gisapp.accounts.jurisdiction import jurisdiction_of, prefix_for_code
from gisapp.accounts.models import Role
from layers.models import AdminLevel, AdminUnit, Generation, Net

from .errors import Refusal
from .geometry import metric_srid_for
from .models import Draft, DraftStatus


def may_plan(user) -> bool:
    """Planners and administrators redraw grids; nobody else, whatever their area."""
    j = jurisdiction_of(user)
    return j.everything or (j.prefix is not None and j.role == Role.PLANNER)


def covers_area(user, area: AdminUnit) -> bool:
    """A planner of a street may open drafts on the street or its communities, not on the district."""
    j = jurisdiction_of(user)
    if j.everything:
        return True
    return bool(j.prefix) and prefix_for_code(area.code).startswith(j.prefix)


def require_planner(user) -> None:
    """401 for nobody, 403 for anyone but planners and administrators — asked before a request's body or
    area is looked at, so that a refusal tells a stranger nothing about their shape."""
    if user is None or not user.is_authenticated:
        raise Refusal(401, "unauthenticated", "请先登录", "authentication required")
    if not may_plan(user):
        raise Refusal(
            403,
            "forbidden",
            "只有网格规划员和管理员可以调整网格边界",
            "only planners and administrators may redraw grids",
        )


def check_permission(user, area: AdminUnit) -> None:
    require_planner(user)
    if not covers_area(user, area):
        raise Refusal(
            403,
            "outside_jurisdiction",
            f"{area.name}（{area.code}）不在您的辖区内",
            f"{area.code} is outside your jurisdiction",
        )


def group_nets(group: str) -> list[Net]:
    return list(Net.objects.filter(partition_group=group).order_by("ordering", "code"))


def generations_in_force(nets: list[Net]) -> dict[str, int]:
    in_force = Generation.in_force()
    return {n.code: in_force[n.id] for n in nets if n.id in in_force}


def containers_for(net: Net, area: AdminUnit) -> list[AdminUnit]:
    """The units whose partition the draft may change: communities, or districts for overlay nets."""
    level = AdminLevel.COMMUNITY if net.follows_communities else AdminLevel.DISTRICT
    if not net.follows_communities and area.level in (AdminLevel.STREET, AdminLevel.COMMUNITY):
        raise Refusal(
            422,
            "area_too_small",
            f"{net.name}不按社区划分，请以区县为范围打开草稿",
            f"{net.code} grids do not follow community lines: open the draft on a district",
        )
    prefix = prefix_for_code(area.code)
    units = AdminUnit.objects.filter(level=level, code__startswith=prefix).order_by("code")
    return list(units.defer("geom", "geom_3857"))


def create_draft(user, net_code: str, area_code: str, note: str = "") -> Draft:
    net = Net.objects.filter(code=net_code).first()
    if net is None:
        raise Refusal(422, "unknown_net", f"网不存在：{net_code}", f"no such net: {net_code}")
    area = AdminUnit.objects.filter(code=area_code).first()
    if area is None:
        raise Refusal(422, "unknown_area", f"行政区划不存在：{area_code}", f"no such admin unit: {area_code}")
    check_permission(user, area)
    nets = group_nets(net.partition_group)
    if any(n.follows_communities != net.follows_communities for n in nets):
        raise Refusal(422, "mixed_group", "分区组内的网划分方式不一致", "the partition group mixes net kinds")
    containers = containers_for(net, area)
    if not containers:
        raise Refusal(422, "empty_area", "该范围内没有社区或区县", "the area holds no units to partition")
    with transaction.atomic():
        base = generations_in_force(nets)
        if not base:
            raise Refusal(
                409, "no_generation", "该网还没有生效的边界版本", "the net has no generation in force"
            )
        centre = area.geom.centroid
        draft = Draft.objects.create(
            net=net,
            partition_group=net.partition_group,
            area=area,
            base_generations=base,
            containers=[c.id for c in containers],
            metric_srid=metric_srid_for(centre.x),
            note=note,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        by_id = {n.code: n.id for n in nets}
        with connection.cursor() as cur:
            cur.execute(
                """
                insert into boundaries_draftgrid
                    (draft_id, net_id, code, name, kind, container_id, community_id, district_id,
                     target_households, source_id, changed, deleted, auto_name, geom)
                select %(draft)s, g.net_id, g.code, g.name, g.kind,
                       case when n.follows_communities then g.community_id else g.district_id end,
                       g.community_id, g.district_id, g.target_households, g.id, false, false, false, g.geom
                from layers_grid g
                join layers_net n on n.id = g.net_id
                join unnest(%(nets)s::bigint[], %(numbers)s::int[]) v(net_id, number) on v.net_id = g.net_id
                where g.generation_low <= v.number
                  and (g.generation_high is null or g.generation_high >= v.number)
                  and (case when n.follows_communities then g.community_id else g.district_id end)
                      = any(%(containers)s::bigint[])
                """,
                {
                    "draft": draft.pk,
                    "nets": [by_id[c] for c in base],
                    "numbers": list(base.values()),
                    "containers": draft.containers,
                },
            )
    return draft


def is_stale(draft: Draft) -> bool:
    return generations_in_force(group_nets(draft.partition_group)) != draft.base_generations


def editable(draft: Draft) -> None:
    if draft.status in (DraftStatus.PUBLISHED, DraftStatus.DISCARDED):
        raise Refusal(
            409,
            "draft_closed",
            f"草稿已{draft.get_status_display()}，不能再修改",
            f"the draft is {draft.status} and cannot change any more",
        )


def touch(draft: Draft) -> None:
    draft.status = DraftStatus.DRAFT
    draft.updated_at = timezone.now()
    draft.save(update_fields=["status", "updated_at"])


def describe(draft: Draft) -> dict:
    from .models import DraftGrid

    live = DraftGrid.objects.filter(draft=draft, deleted=False)
    return {
        "id": draft.pk,
        "net": draft.net.code,
        "partition_group": draft.partition_group,
        "nets": list(draft.base_generations),
        "area": {"code": draft.area.code, "name": draft.area.name, "level": draft.area.level},
        "status": draft.status,
        "base_generations": draft.base_generations,
        "stale": draft.status not in (DraftStatus.PUBLISHED, DraftStatus.DISCARDED) and is_stale(draft),
        "grids": live.count(),
        "changed": live.filter(changed=True).count(),
        "removed": DraftGrid.objects.filter(draft=draft, deleted=True, source__isnull=False).count(),
        "metric_srid": draft.metric_srid,
        "created_by": draft.created_by.username if draft.created_by else None,
        "created_at": draft.created_at.isoformat(),
        "note": draft.note,
    }
