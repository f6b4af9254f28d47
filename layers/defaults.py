"""Nets every deployment starts with (nets are data: a city may add more in the admin)."""

# id, code, name, name_en, follows_communities, partition_group, ordering
DEFAULT_NETS = [
    (1, "comprehensive", "综合网格", "Comprehensive grids", True, "community", 1),
    (2, "dedicated", "专属网格", "Dedicated grids", True, "community", 2),
    (3, "police", "警务网格", "Police grids", False, "police", 3),
    (4, "mediation", "调解网格", "Mediation grids", False, "mediation", 4),
]
