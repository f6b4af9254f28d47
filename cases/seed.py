"""The default two-level case category dictionary (from DOMAIN.md, GB/T 30428.2 and CJ/T 214).

It is data, not code: a city edits it in the admin.  Each item: (code, name, English name, deadline in
working hours, default severity); a top-level class carries its kind (event / component / governance).
"""

from __future__ import annotations

CATEGORY_TREE: list[tuple[str, str, str, str, list[tuple[str, str, str, int, str]]]] = [
    (
        "SJ01",
        "市容环境",
        "City appearance",
        "event",
        [
            ("SJ0101", "暴露垃圾", "Exposed garbage", 4, "trivial"),
            ("SJ0102", "乱堆物料", "Piled materials", 8, "trivial"),
            ("SJ0103", "道路不洁", "Dirty road", 8, "trivial"),
            ("SJ0104", "违规晾晒", "Improper drying", 16, "trivial"),
        ],
    ),
    (
        "SJ02",
        "宣传广告",
        "Advertising",
        "event",
        [
            ("SJ0201", "非法小广告", "Illegal flyers", 8, "trivial"),
            ("SJ0202", "违规户外广告", "Illegal outdoor advertising", 40, "small"),
        ],
    ),
    (
        "SJ03",
        "施工管理",
        "Construction",
        "event",
        [
            ("SJ0301", "施工扰民", "Construction noise", 8, "small"),
            ("SJ0302", "违法建设", "Illegal construction", 4, "big"),
            ("SJ0303", "工地扬尘", "Construction dust", 8, "small"),
        ],
    ),
    (
        "SJ04",
        "突发事件",
        "Emergencies",
        "event",
        [
            ("SJ0401", "路面塌陷", "Road collapse", 2, "emergency"),
            ("SJ0402", "自来水管爆裂", "Burst water main", 2, "emergency"),
            ("SJ0403", "燃气泄漏", "Gas leak", 1, "emergency"),
        ],
    ),
    (
        "SJ05",
        "街面秩序",
        "Street order",
        "event",
        [
            ("SJ0501", "占道经营", "Street vending on the road", 4, "trivial"),
            ("SJ0502", "无照经营游商", "Unlicensed peddlers", 8, "small"),
            ("SJ0503", "机动车乱停放", "Illegal parking", 4, "trivial"),
        ],
    ),
    (
        "BJ01",
        "公用设施",
        "Public utilities",
        "component",
        [
            ("BJ0101", "井盖缺失破损", "Missing or broken manhole cover", 4, "small"),
            ("BJ0102", "路灯损坏", "Broken street light", 24, "small"),
            ("BJ0103", "消防栓损坏", "Broken fire hydrant", 24, "small"),
        ],
    ),
    (
        "BJ02",
        "道路交通",
        "Roads and traffic",
        "component",
        [
            ("BJ0201", "交通信号灯损坏", "Broken traffic light", 4, "small"),
            ("BJ0202", "护栏损坏", "Broken guardrail", 24, "small"),
        ],
    ),
    (
        "BJ03",
        "市容环境设施",
        "Sanitation facilities",
        "component",
        [
            ("BJ0301", "垃圾箱破损", "Broken litter bin", 24, "small"),
            ("BJ0302", "公厕设施损坏", "Broken public toilet", 24, "small"),
        ],
    ),
    (
        "BJ04",
        "园林绿化",
        "Landscaping",
        "component",
        [
            ("BJ0401", "行道树倒伏", "Fallen street tree", 8, "small"),
            ("BJ0402", "绿地破坏", "Damaged green space", 40, "small"),
        ],
    ),
    (
        "BJ05",
        "房屋土地",
        "Buildings and land",
        "component",
        [
            ("BJ0501", "危房", "Dangerous building", 8, "small"),
        ],
    ),
    (
        "ZL01",
        "矛盾纠纷",
        "Disputes",
        "governance",
        [
            ("ZL0101", "家庭纠纷", "Family dispute", 24, "trivial"),
            ("ZL0102", "邻里纠纷", "Neighbour dispute", 24, "trivial"),
            ("ZL0103", "债务纠纷", "Debt dispute", 40, "small"),
            ("ZL0104", "土地纠纷", "Land dispute", 40, "big"),
        ],
    ),
    (
        "ZL02",
        "安全隐患",
        "Safety hazards",
        "governance",
        [
            ("ZL0201", "燃气安全隐患", "Gas hazard", 8, "big"),
            ("ZL0202", "消防安全隐患", "Fire hazard", 8, "big"),
            ("ZL0203", "防汛隐患", "Flood hazard", 8, "big"),
        ],
    ),
    (
        "ZL03",
        "治安",
        "Public order",
        "governance",
        [
            ("ZL0301", "治安隐患", "Public-order risk", 8, "small"),
        ],
    ),
    (
        "ZL04",
        "民生服务",
        "Public services",
        "governance",
        [
            ("ZL0401", "独居老人帮扶", "Help for elderly living alone", 24, "trivial"),
            ("ZL0402", "低保咨询", "Subsistence allowance enquiry", 40, "trivial"),
        ],
    ),
]


CATEGORY_COLUMNS = [
    "id",
    "code",
    "name",
    "name_en",
    "kind",
    "parent_id",
    "deadline_hours",
    "default_severity",
]


def category_rows() -> list[tuple]:
    """Rows in CATEGORY_COLUMNS order, with stable ids."""
    rows: list[tuple] = []
    for code, name, name_en, kind, items in CATEGORY_TREE:
        parent_id = len(rows) + 1
        rows.append((parent_id, code, name, name_en, kind, None, max(i[3] for i in items), "small"))
        for icode, iname, iname_en, hours, severity in items:
            rows.append((len(rows) + 1, icode, iname, iname_en, kind, parent_id, hours, severity))
    return rows


# Department kinds that own components (属主): routing rules name a kind, not a department.
DEPARTMENT_KINDS = {
    "urban_management": "城市管理",
    "housing": "住房建设",
    "water": "供水排水",
    "power": "供电",
    "landscaping": "园林绿化",
    "police": "公安",
    "market": "市场监管",
    "civil_affairs": "民政",
    "transport": "交通运输",
    "gas": "燃气",
}

# (category code or None, severity or "", acts_at, department kind, principle, priority, note)
ROUTING_RULES = [
    (None, "emergency", "district", "", "emergency", 100, "紧急事件直达区指挥中心"),
    ("BJ0101", "", "department", "water", "owner", 50, "井盖归属供排水单位"),
    ("BJ0102", "", "department", "power", "owner", 50, "路灯归属供电单位"),
    ("BJ0103", "", "department", "water", "owner", 50, "消防栓归属供水单位"),
    ("BJ02", "", "department", "transport", "owner", 50, "道路交通设施归属交通部门"),
    ("BJ03", "", "department", "urban_management", "owner", 50, "环卫设施归属城管部门"),
    ("BJ04", "", "department", "landscaping", "owner", 50, "园林绿化归属园林部门"),
    ("BJ05", "", "department", "housing", "owner", 50, "房屋安全归属住建部门"),
    (None, "trivial", "grid", "", "locality", 10, "小事不出网格"),
    (None, "small", "community", "", "locality", 10, "一般事项不出社区"),
    (None, "big", "street", "", "locality", 10, "大事不出街道"),
    (None, "", "community", "", "locality", 0, "兜底：社区"),
]

# preset → step → working hours (None category); the "130" preset is Zhongshan district's rule:
# study and deploy within 1 working day, report back within 3 working days.
DEADLINE_PRESETS = {
    "default": {"register": 2, "accept": 4, "check": 8},
    "130": {"register": 2, "accept": 7.5, "handle": 22.5, "check": 7.5},
}


def seed_case_rules(category_model, rule_model, deadline_model, calendar_model) -> None:
    """Default routing rules, deadline presets and a working calendar, where none exist yet.

    Takes the model classes so that migrations (historical models) and the demo loader share it.
    """
    if not rule_model.objects.exists():
        by_code = {c.code: c for c in category_model.objects.all()}
        rule_model.objects.bulk_create(
            rule_model(
                category=by_code.get(code) if code else None,
                severity=severity,
                acts_at=acts_at,
                department_kind=dept_kind,
                principle=principle,
                priority=priority,
                note=note,
            )
            for code, severity, acts_at, dept_kind, principle, priority, note in ROUTING_RULES
        )
    if not deadline_model.objects.exists():
        deadline_model.objects.bulk_create(
            deadline_model(preset=preset, category=None, step=step, hours=hours)
            for preset, steps in DEADLINE_PRESETS.items()
            for step, hours in steps.items()
        )
    if not calendar_model.objects.exists():
        calendar_model.objects.create(name="标准工作日历")


# The package names its holidays in English only; the calendar the dispatchers read says them in Chinese.
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


def seed_holidays(holiday_model) -> dict[int, int]:
    """The statutory holidays and worked weekend days (调休) of every year `chinese-calendar` knows, as
    Holiday rows: {year: rows added}.

    A year is seeded only while the calendar holds no day of it, so whatever an administrator changed
    in the admin (a day added, removed or turned into a workday) stays as they left it when this runs
    again, and a year they entered by hand is theirs.  The package is updated each November when the
    State Council publishes the next year; installing a newer one and running this adds that year.
    """
    from chinese_calendar.constants import holidays, workdays

    days = [(d, name, False) for d, name in holidays.items()]
    days += [(d, name, True) for d, name in workdays.items()]
    taken = {d.year for d in holiday_model.objects.dates("date", "year")}
    added: dict[int, int] = {}
    rows = []
    for day, name, worked in sorted(days):
        if day.year in taken:
            continue
        zh = HOLIDAY_NAMES.get(name, name)[:24]
        rows.append(holiday_model(date=day, name=f"{zh}调休上班" if worked else zh, workday=worked))
        added[day.year] = added.get(day.year, 0) + 1
    holiday_model.objects.bulk_create(rows, ignore_conflicts=True)
    return added
