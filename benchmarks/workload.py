"""Standard R5 matcher workload (fixed seed): a table body dict plus contract chat dicts.

Default shape (issue 4): 64 groups, 32 crowd predicates over 4 attributes (int `level`,
number `spent`, int `orders`, string `city`; and/or/in/not_in), 1,000 products with Zipf-skewed
popularity, 12 intents over the message (two also read `level`), 6 order states, 100,000 chats.
`workload(groups=..., crowds=...)` scales the same generator (the scaling benchmark).
"""

from __future__ import annotations

import random

DIMS = ("crowd", "product", "intent", "order")
ORDER_STATES = ["no_active_order", "unpaid", "paid_unshipped", "shipped", "completed", "after_sale"]
CITIES = [
    "杭州",
    "上海",
    "北京",
    "广州",
    "深圳",
    "成都",
    "武汉",
    "南京",
    "西安",
    "苏州",
    "天津",
    "重庆",
    "长沙",
    "郑州",
    "青岛",
    "沈阳",
    "宁波",
    "厦门",
    "福州",
    "济南",
    "合肥",
    "昆明",
    "大连",
    "无锡",
]
LEVELS = list(range(2, 10))
SPENT = [100, 250.5, 500, 1000, 1999.99, 3000, 5000, 10000]
ORDERS = [1, 2, 3, 5, 8, 13, 21]
INTENT_WORDS = [
    ["退款", "退钱"],
    ["退货", "换货"],
    ["发货", "什么时候发"],
    ["快递", "物流"],
    ["尺码", "大小"],
    ["优惠", "便宜", "优惠券"],
    ["发票"],
    ["质量", "坏了"],
    ["颜色", "色差"],
    ["库存", "有货"],
    ["地址", "改地址"],
    ["赠品", "送什么"],
]
FILLER = ["你好", "在吗", "请问", "这个", "亲", "谢谢", "麻烦看下", "我想问问", "急", "好的"]
OUTSIDE_CROWDS = ["love_new", "love_discount"]


def _crowd_expr(rnd: random.Random):
    lv = ["cmp", ">=", "level", rnd.choice(LEVELS)]
    sp = ["cmp", rnd.choice([">", ">="]), "spent", rnd.choice(SPENT)]
    od = ["cmp", rnd.choice([">=", "<"]), "orders", rnd.choice(ORDERS)]
    city = ["in", "city", rnd.sample(CITIES, rnd.randint(2, 5))]
    kind = rnd.randrange(6)
    if kind == 0:
        return ["and", [lv, sp]]
    if kind == 1:
        return ["or", [od, sp]]
    if kind == 2:
        return city
    if kind == 3:
        return ["and", [city, lv]]
    if kind == 4:
        return ["and", [["not_in", "city", rnd.sample(CITIES, 3)], ["or", [od, lv]]]]
    return ["and", [lv, ["or", [sp, od]]]]


def _intent_expr(i: int, n: int):
    words = INTENT_WORDS[i % len(INTENT_WORDS)]
    if i >= len(INTENT_WORDS):
        words = [w + str(i // len(INTENT_WORDS)) for w in words]
    e = ["contains_any", "message", words]
    if i % 6 == 5:
        e = ["and", [e, ["cmp", ">=", "level", 3]]]
    return e


def lower(groups: list) -> dict:
    """The R5 tree of a group list (bound and value index per dimension)."""
    bound = {d: [i for i, g in enumerate(groups) if g[d]] for d in DIMS}
    index = {d: {} for d in DIMS}
    for d in DIMS:
        for i, g in enumerate(groups):
            for v in dict.fromkeys(g[d]):
                index[d].setdefault(v, []).append(i)
    return {"dims": list(DIMS), "bound": bound, "index": index}


def make_body(
    n_groups=64,
    n_crowds=32,
    n_products=1000,
    n_intents=12,
    seed=2026,
    skewed_groups=True,
    crowd_share=0.35,
) -> dict:
    """A table body. For a shop whose shape stays the same as it grows: skewed_groups=False
    (groups pick products uniformly, so a product keeps about as many groups as groups and
    products grow together) and a crowd_share that falls with the group count (about the same
    number of groups bind crowds)."""
    rnd = random.Random(seed)
    crowds = [{"name": f"c{i}", "expr": _crowd_expr(rnd)} for i in range(n_crowds)]
    intents = [{"name": f"i{i}", "expr": _intent_expr(i, n_intents)} for i in range(n_intents)]
    products = [f"p{i}" for i in range(n_products)]
    weights = [1 / (i + 1) ** 1.1 for i in range(n_products)]
    crowd_names = [c["name"] for c in crowds] + OUTSIDE_CROWDS
    intent_names = [c["name"] for c in intents]
    groups = []
    for g in range(n_groups):
        grp = {
            "name": f"g{g}",
            "agents": [f"a{g}"],
            "mode": "efficiency",
            "strength": None,
            "robot": False,
            "crowd": [],
            "product": [],
            "intent": [],
            "order": [],
        }
        if rnd.random() < crowd_share:
            grp["crowd"] = rnd.sample(crowd_names, rnd.randint(1, 2))
        if rnd.random() < 0.8:
            picks = rnd.choices(products, weights if skewed_groups else None, k=rnd.randint(5, 40))
            grp["product"] = list(dict.fromkeys(picks + rnd.sample(products, 5)))
        if rnd.random() < 0.4:
            grp["intent"] = rnd.sample(intent_names, rnd.randint(1, 3))
        if rnd.random() < 0.5:
            grp["order"] = rnd.sample(ORDER_STATES, rnd.randint(1, 3))
        groups.append(grp)
    return {
        "shop": "bench",
        "timezone": "Asia/Shanghai",
        "routing": {
            "when_nobody_online": "message_pool",
            "robot_first": False,
            "exclusive_direct": False,
            "busy_threshold": 4,
            "sticky_hold": 86400,
            "sticky_window": 259200,
            "drain_pool": False,
        },
        "outreach": {"cap_window": 604800, "max_delay": 86400},
        "attributes": {"level": "int", "spent": "number", "orders": "int", "city": "string"},
        "crowds": crowds,
        "intents": intents,
        "labels": {"crowd": list(OUTSIDE_CROWDS), "intent": []},
        "agents": [{"id": f"a{g}", "level": 3} for g in range(n_groups)],
        "groups": groups,
        "tree": lower(groups),
        "promos": {},
        "facts": {
            "tool_level": None,
            "relationships_last_month_end": None,
            "advanced_relationships_this_month": None,
            "grants": [],
        },
        "campaigns": [],
    }


def make_messages(rnd: random.Random, n_intents: int, k=600) -> list:
    out = []
    for _ in range(k):
        parts = rnd.sample(FILLER, rnd.randint(1, 3))
        for _ in range(rnd.choice([0, 1, 1, 1, 2])):
            i = rnd.randrange(n_intents)
            words = INTENT_WORDS[i % len(INTENT_WORDS)]
            w = rnd.choice(words) + (str(i // len(INTENT_WORDS)) if i >= len(INTENT_WORDS) else "")
            parts.insert(rnd.randrange(len(parts) + 1), w)
        out.append("".join(parts))
    return out


def make_chats(n=100_000, n_products=1000, n_intents=12, seed=7) -> list:
    rnd = random.Random(seed)
    products = [f"p{i}" for i in range(n_products)]
    weights = [1 / (i + 1) ** 1.1 for i in range(n_products)]
    picks = rnd.choices(products, weights, k=n)
    messages = make_messages(rnd, n_intents)
    chats = []
    for i in range(n):
        attrs = {}
        if rnd.random() < 0.95:
            attrs["level"] = rnd.randint(1, 10)
        if rnd.random() < 0.9:
            attrs["spent"] = round(rnd.lognormvariate(6.5, 1.3), 2)
        if rnd.random() < 0.9:
            attrs["orders"] = min(int(rnd.expovariate(0.15)), 60)
        if rnd.random() < 0.9:
            attrs["city"] = rnd.choice(CITIES)
        r = rnd.random()
        chats.append(
            {
                "type": "chat",
                "time": "2026-11-23T09:00:00+08:00",
                "buyer": f"u{i}",
                "product": picks[i] if r < 0.95 else (None if r < 0.98 else "unknown-sku"),
                "order": rnd.choice(ORDER_STATES) if rnd.random() < 0.9 else None,
                "intent": f"i{rnd.randrange(n_intents)}" if rnd.random() < 0.1 else None,
                "crowds": [rnd.choice(OUTSIDE_CROWDS)] if rnd.random() < 0.1 else [],
                "attrs": attrs,
                "message": rnd.choice(messages),
                "exclusive_agent": None,
            }
        )
    return chats


def workload(
    groups=64,
    crowds=32,
    products=1000,
    intents=12,
    chats=100_000,
    seed=2026,
    skewed_groups=True,
    crowd_share=0.35,
):
    """(body, chats) with a fixed seed."""
    return (
        make_body(groups, crowds, products, intents, seed, skewed_groups, crowd_share),
        make_chats(chats, products, intents, seed + 1),
    )
