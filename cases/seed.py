"""The default two-level case category dictionary (from DOMAIN.md, GB/T 30428.2 and CJ/T 214).

It is data, not code: a city edits it in the admin.  Each item: (code, name, English name, deadline in
working hours); a top-level class carries its kind (event / component / governance).
"""

from __future__ import annotations

CATEGORY_TREE: list[tuple[str, str, str, str, list[tuple[str, str, str, int]]]] = [
    (
        "SJ01",
        "市容环境",
        "City appearance",
        "event",
        [
            ("SJ0101", "暴露垃圾", "Exposed garbage", 4),
            ("SJ0102", "乱堆物料", "Piled materials", 8),
            ("SJ0103", "道路不洁", "Dirty road", 8),
            ("SJ0104", "违规晾晒", "Improper drying", 16),
        ],
    ),
    (
        "SJ02",
        "宣传广告",
        "Advertising",
        "event",
        [
            ("SJ0201", "非法小广告", "Illegal flyers", 8),
            ("SJ0202", "违规户外广告", "Illegal outdoor advertising", 40),
        ],
    ),
    (
        "SJ03",
        "施工管理",
        "Construction",
        "event",
        [
            ("SJ0301", "施工扰民", "Construction noise", 8),
            ("SJ0302", "违法建设", "Illegal construction", 4),
            ("SJ0303", "工地扬尘", "Construction dust", 8),
        ],
    ),
    (
        "SJ04",
        "突发事件",
        "Emergencies",
        "event",
        [
            ("SJ0401", "路面塌陷", "Road collapse", 2),
            ("SJ0402", "自来水管爆裂", "Burst water main", 2),
            ("SJ0403", "燃气泄漏", "Gas leak", 1),
        ],
    ),
    (
        "SJ05",
        "街面秩序",
        "Street order",
        "event",
        [
            ("SJ0501", "占道经营", "Street vending on the road", 4),
            ("SJ0502", "无照经营游商", "Unlicensed peddlers", 8),
            ("SJ0503", "机动车乱停放", "Illegal parking", 4),
        ],
    ),
    (
        "BJ01",
        "公用设施",
        "Public utilities",
        "component",
        [
            ("BJ0101", "井盖缺失破损", "Missing or broken manhole cover", 4),
            ("BJ0102", "路灯损坏", "Broken street light", 24),
            ("BJ0103", "消防栓损坏", "Broken fire hydrant", 24),
        ],
    ),
    (
        "BJ02",
        "道路交通",
        "Roads and traffic",
        "component",
        [
            ("BJ0201", "交通信号灯损坏", "Broken traffic light", 4),
            ("BJ0202", "护栏损坏", "Broken guardrail", 24),
        ],
    ),
    (
        "BJ03",
        "市容环境设施",
        "Sanitation facilities",
        "component",
        [
            ("BJ0301", "垃圾箱破损", "Broken litter bin", 24),
            ("BJ0302", "公厕设施损坏", "Broken public toilet", 24),
        ],
    ),
    (
        "BJ04",
        "园林绿化",
        "Landscaping",
        "component",
        [
            ("BJ0401", "行道树倒伏", "Fallen street tree", 8),
            ("BJ0402", "绿地破坏", "Damaged green space", 40),
        ],
    ),
    (
        "BJ05",
        "房屋土地",
        "Buildings and land",
        "component",
        [
            ("BJ0501", "危房", "Dangerous building", 8),
        ],
    ),
    (
        "ZL01",
        "矛盾纠纷",
        "Disputes",
        "governance",
        [
            ("ZL0101", "家庭纠纷", "Family dispute", 24),
            ("ZL0102", "邻里纠纷", "Neighbour dispute", 24),
            ("ZL0103", "债务纠纷", "Debt dispute", 40),
            ("ZL0104", "土地纠纷", "Land dispute", 40),
        ],
    ),
    (
        "ZL02",
        "安全隐患",
        "Safety hazards",
        "governance",
        [
            ("ZL0201", "燃气安全隐患", "Gas hazard", 8),
            ("ZL0202", "消防安全隐患", "Fire hazard", 8),
            ("ZL0203", "防汛隐患", "Flood hazard", 8),
        ],
    ),
    (
        "ZL03",
        "治安",
        "Public order",
        "governance",
        [
            ("ZL0301", "治安隐患", "Public-order risk", 8),
        ],
    ),
    (
        "ZL04",
        "民生服务",
        "Public services",
        "governance",
        [
            ("ZL0401", "独居老人帮扶", "Help for elderly living alone", 24),
            ("ZL0402", "低保咨询", "Subsistence allowance enquiry", 40),
        ],
    ),
]


def category_rows() -> list[tuple]:
    """(id, code, name, name_en, kind, parent_id, deadline_hours) rows with stable ids."""
    rows: list[tuple] = []
    for code, name, name_en, kind, items in CATEGORY_TREE:
        parent_id = len(rows) + 1
        rows.append((parent_id, code, name, name_en, kind, None, max(h for *_, h in items)))
        for icode, iname, iname_en, hours in items:
            rows.append((len(rows) + 1, icode, iname, iname_en, kind, parent_id, hours))
    return rows
