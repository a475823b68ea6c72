"""Generate large, valid rules sources (YAML) for compile benchmarks, with a fixed seed."""

import json
import random

ORDER = ["no_active_order", "unpaid", "paid_unshipped", "shipped", "completed", "after_sale"]
CITIES = ["杭州", "上海", "北京", "广州", "深圳", "成都", "武汉", "南京"]


def shop_source(
    groups: int, crowds: int, seed: int = 7, agents_per_group: int = 2, compact: bool = False
) -> str:
    """A clean shop (no diagnostics): every agent in exactly one group, no shadowed group."""
    rnd = random.Random(seed)
    crowd_defs = {}
    for i in range(crowds):
        lvl, spent = rnd.randint(1, 5), rnd.randint(0, 20000)
        cities = ", ".join(json.dumps(c, ensure_ascii=False) for c in rnd.sample(CITIES, 2))
        crowd_defs[f"c{i}"] = rnd.choice(
            [
                f"level >= {lvl} and spent > {spent}",
                f"city in [{cities}] or orders >= {rnd.randint(1, 30)}",
                f'not (level < {lvl}) and (spent <= {spent}.5 or city == "杭州")',
            ]
        )
    n_agents = groups * agents_per_group
    agents = {f"a{i}": {"level": rnd.randint(1, 5)} for i in range(n_agents)}
    group_defs = {}
    for g in range(groups):
        spec = {"agents": [f"a{g * agents_per_group + k}" for k in range(agents_per_group)]}
        if crowds and rnd.random() < 0.5:
            spec["crowd"] = [f"c{rnd.randrange(crowds)}"]
        if rnd.random() < 0.7:
            spec["product"] = [f"p{rnd.randrange(groups * 4)}" for _ in range(rnd.randint(1, 4))]
        if rnd.random() < 0.3:
            spec["order"] = rnd.sample(ORDER, rnd.randint(1, 3))
        group_defs[f"g{g}"] = spec
    rules = {
        "shop": "bench",
        "attributes": {"level": "int", "spent": "number", "orders": "int", "city": "string"},
        "crowds": crowd_defs,
        "agents": agents,
        "groups": group_defs,
    }
    if compact:  # 100,000 groups stay under the 16 MiB source limit
        return json.dumps(rules, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(rules, ensure_ascii=False, indent=1)


def shop_sources(groups: int, crowds: int, seed: int = 7, compact: bool = False) -> dict[str, str]:
    """The same shop in the three surfaces: {"json": ..., "yaml": ..., "rules": ...} (the YAML
    and .rules forms are printed from the JSON one by rulec's own printers)."""
    from rulec.compiler.frontend_json import parse_json_fast
    from rulec.compiler.printer_rules import print_rules
    from rulec.compiler.printer_yaml import print_yaml

    text = shop_source(groups, crowds, seed, compact=compact)
    shop = parse_json_fast(text, "shop.json")
    assert shop is not None, "the generated shop is clean JSON"
    return {"json": text, "yaml": print_yaml(shop), "rules": print_rules(shop)}


def shop_chats(groups: int, n: int, seed: int = 11) -> list:
    """n contract chats for shop_source(groups, ...): its products (and unknown ones), order
    states, and the attributes its crowds read."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        attrs = {"level": rnd.randint(1, 5), "spent": rnd.randint(0, 20000)}
        if rnd.random() < 0.8:
            attrs["orders"] = rnd.randint(0, 40)
        if rnd.random() < 0.8:
            attrs["city"] = rnd.choice(CITIES)
        out.append(
            {
                "type": "chat",
                "buyer": f"u{i}",
                "product": f"p{rnd.randrange(groups * 4 + 10)}",
                "order": rnd.choice(ORDER + [None]),
                "attrs": attrs,
                "message": "你好",
            }
        )
    return out
