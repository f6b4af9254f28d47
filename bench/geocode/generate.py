"""Generate a labelled set of noisy address queries from a loaded city (the evaluation set of the geocoder).

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/onenet .venv/bin/python bench/geocode/generate.py \
        --per-kind 280 --seed 7 --out bench/geocode/queries.jsonl

Each line: {"id", "kind", "kinds", "query", "building_id", "address", "grid_code", "unit", "room"}.
`address` is the label (standard addresses are unique); `building_id` is the id in the database it was
drawn from.  The noise is written independently of the geocoder (nothing is imported from geocoding/), so
the set does not mirror the parser's own rules:

clean          the standard address, sometimes with unit and room
dropped_levels district / street / community left out; for estates, road+door or the estate name too
short_names    明湖区→明湖, 兴化街道→兴化/兴化街/兴化街办, 锦华社区→锦华/锦华居委会, 嫩江新村→嫩江
numerals       Chinese numerals (三十三号, 五零一室, 两), full-width digits, 栋/幢/座/号楼
typos          one name misspelt: a similar character, a character dropped, doubled or two swapped
hyphen_forms   学士街33-3-501, 嫩江新村2-1-301, 观澜路158-2-1-301
swapped_order  parts out of order: room first, estate before road, district last …
extra_words    words around the address (a caller's sentence, "门口", "东侧约50米", punctuation)
mixed          two or three of the above
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

KINDS = [
    "clean",
    "dropped_levels",
    "short_names",
    "numerals",
    "typos",
    "hyphen_forms",
    "swapped_order",
    "extra_words",
    "mixed",
]
RESIDENTIAL_SUFFIXES = ["小区", "花园", "家园", "新村", "公寓", "嘉园", "名邸", "苑"]
# Characters that are easy to confuse by sound or shape, both ways.
CONFUSABLE = [
    "化华花",
    "业叶页",
    "士土",
    "兴星",
    "光广",
    "安按岸",
    "和合河",
    "平坪苹",
    "阳杨洋",
    "明名鸣",
    "湖胡",
    "江姜",
    "园源圆元",
    "苑院",
    "村材",
    "路露",
    "街接",
    "区驱",
    "新心欣",
    "华桦",
    "东冬",
    "西希",
    "南楠",
    "北贝",
    "丽利",
    "水氺",
    "锦金",
    "翠萃",
    "泰太",
    "康慷",
    "宁凝",
    "永勇",
    "红虹",
    "旗棋",
    "建健",
    "设社",
    "民敏",
    "放方",
    "风峰丰",
    "春椿",
    "雷蕾",
    "龙隆",
    "凤奉",
    "铁贴",
    "人仁",
    "文汶",
    "友有",
    "谊义",
    "团图",
    "结洁",
    "石实",
    "油邮",
    "创闯",
    "桥乔",
    "兰蓝",
    "丁叮",
    "香湘",
    "牡姆",
    "丹单",
    "松淞",
    "大达",
    "同童",
    "乘成",
    "庆青",
    "奋愤",
    "斗抖",
    "拥涌",
    "军君",
    "前钱",
    "进近",
    "远园",
    "望旺",
    "朝潮",
    "立丽",
    "志智",
    "求球",
    "实石",
    "振震",
    "开凯",
    "拓托",
    "丁顶",
    "晨辰",
    "曦希",
    "晖辉",
    "秀绣",
    "碧璧",
    "映影",
    "月越",
    "天添",
    "鹅娥",
    "湿式",
    "地弟",
    "芦卢",
    "苇伟",
    "黎梨",
    "凯恺",
    "旋璇",
    "银垠",
    "河荷",
    "珠株",
    "苑远",
    "世市",
    "纪记",
    "滨宾",
    "城诚",
    "业邺",
    "宝保",
    "庆亲",
    "乐勒",
    "岗钢",
    "杏兴",
    "林琳",
    "育玉",
    "才材",
    "启起",
    "航杭",
    "清青",
    "临林",
    "观官",
    "澜兰",
    "泉全",
    "鸣铭",
    "百柏",
    "合何",
    "紫子",
    "荆京",
    "海还",
    "棠堂",
    "年念",
    "先仙",
    "锋峰",
    "如儒",
    "意义",
    "长常",
    "彩采",
    "瑞睿",
    "雪血",
    "丰风",
    "收首",
    "金今",
    "秋丘",
    "湾弯",
    "溪西",
    "道到",
    "镇震",
    "社设",
    "嘉佳",
    "邸底",
    "寓遇",
    "厦夏",
    "学雪",
    "府腐",
    "体休",
    "育玉",
    "技及",
    "宏洪",
    "伟卫",
    "高糕",
    "科可",
    "吉及",
    "祥详",
    "景井",
    "葵魁",
    "英鹰",
    "卧握",
    "里理",
    "萨撒",
    "原源",
    "让壤",
    "川穿",
    "泉权",
    "港巷",
    "岳乐",
    "陵凌",
    "沙砂",
]
CONFUSE = {}
for group in CONFUSABLE:
    for ch in group:
        CONFUSE.setdefault(ch, set()).update(c for c in group if c != ch)
EXTRA_BEFORE = [
    "你好，我想反映一下，",
    "市民来电：",
    "麻烦派人看看",
    "位置是",
    "事发地点：",
    "我家住在",
    "投诉地址 ",
    "12345转办：",
    "请核实 ",
    "就在那个",
    "地址:",
]
EXTRA_AFTER = [
    "门口",
    "东侧约50米",
    "楼下有积水",
    "附近路灯不亮",
    "（近公交站）",
    "北门",
    "对面的空地",
    "，谢谢！",
    "后面",
    " 旁边那栋",
    "西边",
    "这块儿",
    "一楼商铺",
    "楼道里",
]
CN_DIGITS = "零一二三四五六七八九"
FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def cn_full(n: int) -> str:
    """The written form: 105 → 一百零五, 1050 → 一千零五十, 12 → 十二."""
    if n == 0:
        return "零"
    out, pending_zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            if pending_zero:
                out += "零"
            out += CN_DIGITS[d] + unit
            pending_zero = False
        elif out:
            pending_zero = True
    return out[1:] if out.startswith("一十") else out


def cn_number(n: int, rng: random.Random) -> str:
    """Chinese numerals as people write them: 33 → 三十三, 501 → 五百零一 or 五零一, 2 → 二 or 两."""
    if n == 2 and rng.random() < 0.3:
        return "两"
    if n >= 100 and rng.random() < 0.5:
        return "".join(CN_DIGITS[int(d)] for d in str(n))  # digit by digit, as read out on the phone
    return cn_full(n)


def numeral(value: str, rng: random.Random) -> str:
    """A number in a random numeral style (Chinese or full-width); hyphenated door numbers stay digits."""
    if not value.isdigit():
        return value.translate(FULLWIDTH) if rng.random() < 0.5 else value
    if rng.random() < 0.3:
        return value.translate(FULLWIDTH)
    return cn_number(int(value), rng)


def short_admin(level: str, name: str, rng: random.Random) -> str:
    if level == "district":
        return name[:-1] if len(name) > 2 else name
    if level == "street":
        if name.endswith("街道"):
            stem = name[:-2]
            return rng.choice([stem, stem + "街", stem + "街办", name + "办事处"])
        return name[:-1] if len(name) > 2 else name
    if level == "community":
        if name.endswith("社区"):
            return rng.choice([name[:-2], name[:-2], name + "居委会", name[:-2] + "居委会"])
        if name.endswith("村"):
            return rng.choice([name[:-1], name + "委会"])
    return name


def short_estate(name: str) -> str:
    for suffix in RESIDENTIAL_SUFFIXES:
        stem_end = name[-len(suffix) - 1]
        # 锦华二名邸 → 锦华二 then 锦华二9号楼 reads as building 29: nobody shortens such a name.
        if (
            name.endswith(suffix)
            and len(name) - len(suffix) >= 2
            and not (stem_end.isdigit() or stem_end in CN_DIGITS + "十")
        ):
            return name[: -len(suffix)]
    return name


def typo(name: str, rng: random.Random) -> str:
    """One slip in a name: a confusable character (most often), or a dropped, doubled or swapped one."""
    if len(name) < 2:
        return name
    r = rng.random()
    positions = list(range(len(name)))
    rng.shuffle(positions)
    if r < 0.6:
        for i in positions:
            if CONFUSE.get(name[i]):
                return name[:i] + rng.choice(sorted(CONFUSE[name[i]])) + name[i + 1 :]
    if r < 0.75 and len(name) >= 3:
        i = rng.randrange(len(name) - 1)  # keep the last character (路, 区, 苑 …)
        return name[:i] + name[i + 1 :]
    if r < 0.88:
        i = rng.randrange(len(name) - 1)
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    i = rng.randrange(len(name))
    return name[: i + 1] + name[i] + name[i + 1 :]


class City:
    def __init__(self) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("select id, code, name, level, parent_id from layers_adminunit")
            self.admin = {r[0]: r for r in cur.fetchall()}
            cur.execute(
                "select id, road_name, door_number, estate, building_number, address, grid_code, "
                "community_id "
                "from layers_building order by id"
            )
            self.buildings = cur.fetchall()

    def chain(self, community_id: int) -> dict[str, str]:
        out = {}
        uid = community_id
        while uid is not None:
            _id, _code, name, level, parent = self.admin[uid]
            out[level] = name
            uid = parent
        return out

    def units(self, building_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(
                "select building_id, unit, room from layers_houseunit where building_id = any(%s)",
                [building_ids],
            )
            out: dict[int, list[tuple[int, str]]] = {}
            for bid, unit, room in cur.fetchall():
                out.setdefault(bid, []).append((unit, room))
        return out


def parts_of(b, city: City, unit_room) -> dict:
    bid, road, door, estate, bnum, address, grid, comm = b
    chain = city.chain(comm)
    return {
        "district": chain.get("district", ""),
        "street": chain.get("street", ""),
        "community": chain.get("community", ""),
        "road": road,
        "door": door,
        "estate": estate,
        "bnum": bnum,
        "unit": str(unit_room[0]) if unit_room else "",
        "room": unit_room[1] if unit_room else "",
    }


def render(p: dict, order: list[str] | None = None, style: dict | None = None) -> str:
    """Join parts in `order` with designators: 号 after the door, 号楼 (or style) after the building."""
    style = style or {}
    pieces = {
        "district": p["district"],
        "street": p["street"],
        "community": p["community"],
        "road": p["road"] + (p["door"] + style.get("door_mark", "号") if p["door"] and p["road"] else ""),
        "estate": p["estate"] + (p["bnum"] + style.get("bnum_mark", "号楼") if p["bnum"] else ""),
        "unitroom": (p["unit"] + style.get("unit_mark", "单元") if p["unit"] else "")
        + (p["room"] + style.get("room_mark", "室") if p["room"] else ""),
    }
    if p.get("hyphen"):
        pieces["road"], pieces["estate"], pieces["unitroom"] = p["hyphen"]
    order = order or ["district", "street", "community", "road", "estate", "unitroom"]
    return "".join(pieces[k] for k in order if pieces.get(k))


def apply(kind: str, p: dict, rng: random.Random, b, has_units: bool) -> dict | None:
    """Apply one kind of noise to the parts `p` (in place); None when it does not apply to this building."""
    estate = bool(p["estate"])
    if kind == "clean":
        return p
    if kind == "dropped_levels":
        levels = ["district", "street", "community"]
        drop = rng.sample(levels, rng.randint(1, 3))
        for lv in drop:
            p[lv] = ""
        if estate and rng.random() < 0.5:
            if rng.random() < 0.5:
                p["road"] = p["door"] = ""
            else:
                p["estate"] = ""  # 观澜路158号2号楼
        return p
    if kind == "short_names":
        choices = ["district", "street", "community"] + (
            ["estate"] if estate and short_estate(p["estate"]) != p["estate"] else []
        )
        for lv in rng.sample(choices, rng.randint(1, len(choices))):
            p[lv] = short_estate(p[lv]) if lv == "estate" else short_admin(lv, p[lv], rng)
        return p
    if kind == "numerals":
        style = {
            "bnum_mark": rng.choice(["号楼", "栋", "幢", "座", "号楼"]),
            "room_mark": rng.choice(["室", "室", "户", "号"]),
        }
        p["door"] = numeral(p["door"], rng)
        if p["bnum"]:
            p["bnum"] = numeral(p["bnum"], rng)
        if p["unit"]:
            p["unit"] = numeral(p["unit"], rng)
            p["room"] = numeral(p["room"], rng)
        p["style"] = style
        return p
    if kind == "typos":
        targets = ["road"] * 3 + (["estate"] * 3 if estate else []) + ["community", "street", "district"]
        target = rng.choice([t for t in targets if p[t]])
        p[target] = typo(p[target], rng)
        return p
    if kind == "hyphen_forms":
        if not has_units or not p["unit"]:
            return None
        u, r = p["unit"], p["room"]
        if b[3] and not estate:  # estate name dropped by another noise: the building number must stay
            p["hyphen"] = (f"{p['road']}{p['door']}-{p['bnum']}-{u}-{r}", "", "")
        elif estate:
            form = rng.random()
            if form < 0.5:
                p["hyphen"] = ("", f"{p['estate']}{p['bnum']}-{u}-{r}", "")
            else:
                p["hyphen"] = (f"{p['road']}{p['door']}-{p['bnum']}-{u}-{r}", "", "")
        else:
            p["hyphen"] = (f"{p['road']}{p['door']}-{u}-{r}", "", "")
        if rng.random() < 0.5:
            p["district"] = ""
        return p
    if kind == "swapped_order":
        orders = [
            ["unitroom", "road", "estate", "community", "street", "district"],
            ["community", "road", "estate", "unitroom", "street", "district"],
            ["estate", "road", "unitroom", "district", "street", "community"],
            ["road", "estate", "unitroom", "district", "street", "community"],
            ["street", "district", "estate", "unitroom", "road", "community"],
        ]
        p["order"] = rng.choice(orders)
        return p
    if kind == "extra_words":
        p["before"] = rng.choice(EXTRA_BEFORE) if rng.random() < 0.7 else ""
        p["after"] = rng.choice(EXTRA_AFTER) if rng.random() < 0.7 or not p["before"] else ""
        return p
    raise ValueError(kind)


def text_of(p: dict) -> str:
    return p.get("before", "") + render(p, p.get("order"), p.get("style")) + p.get("after", "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-kind", type=int, default=280)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=str(Path(__file__).with_name("queries.jsonl")))
    args = ap.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gisapp.settings")
    import django

    django.setup()
    rng = random.Random(args.seed)
    city = City()
    sample = rng.sample(city.buildings, min(len(city.buildings), args.per_kind * len(KINDS) * 2))
    units = city.units([b[0] for b in sample])
    out = []
    pool = iter(sample)
    for kind in KINDS:
        made = 0
        while made < args.per_kind:
            b = next(pool)
            has_units = bool(units.get(b[0]))
            ur = (
                rng.choice(units[b[0]])
                if has_units and (kind == "hyphen_forms" or rng.random() < 0.4)
                else None
            )
            p = parts_of(b, city, ur)
            kinds = [kind]
            if kind == "mixed":
                kinds = rng.sample([k for k in KINDS if k not in ("clean", "mixed")], rng.randint(2, 3))
                if "hyphen_forms" in kinds and "swapped_order" in kinds:
                    kinds.remove("swapped_order")
            ok = True
            for k in kinds:
                if apply(k, p, rng, b, has_units) is None:
                    ok = False
                    break
            if not ok:
                continue
            query = text_of(p)
            out.append(
                {
                    "id": f"{kind}-{made:04d}",
                    "kind": kind,
                    "kinds": kinds,
                    "query": query,
                    "building_id": b[0],
                    "address": b[5],
                    "grid_code": b[6],
                    "unit": ur[0] if ur else None,
                    "room": ur[1] if ur else None,
                }
            )
            made += 1
    with open(args.out, "w", encoding="utf-8") as f:
        for row in out:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(out)} queries to {args.out}")


if __name__ == "__main__":
    main()
