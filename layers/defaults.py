"""Nets every deployment starts with (nets are data: a city may add more in the admin)."""

# id, code, name, name_en, follows_communities, partition_group, ordering
DEFAULT_NETS = [
    (1, "comprehensive", "综合网格", "Comprehensive grids", True, "community", 1),
    (2, "dedicated", "专属网格", "Dedicated grids", True, "community", 2),
    (3, "police", "警务网格", "Police grids", False, "police", 3),
    (4, "mediation", "调解网格", "Mediation grids", False, "mediation", 4),
]


def create_default_nets(net_model) -> None:
    """The default nets as rows of `net_model` (the migration's historical model, or the real one after a
    city load has emptied the table); ids above them are left for nets a city adds."""
    from django.db import connection

    for nid, code, name, name_en, follows, group, ordering in DEFAULT_NETS:
        net_model.objects.create(
            id=nid,
            code=code,
            name=name,
            name_en=name_en,
            follows_communities=follows,
            partition_group=group,
            ordering=ordering,
        )
    with connection.cursor() as cur:
        cur.execute("select setval(pg_get_serial_sequence('layers_net', 'id'), 100)")
