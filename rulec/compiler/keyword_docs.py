"""What each word of the rules means, with its clause in spec/semantics.md: hover texts and schema
descriptions come from here (condensed from docs/language.md, which tests hold it to)."""

from __future__ import annotations

# word -> (meaning, clause ids). One entry per word of the .rules language and per YAML key;
# a word used in two places (`crowd` as a statement and a group item) says both.
KEYWORDS: dict[str, tuple[str, tuple[str, ...]]] = {
    # statements and top-level YAML keys
    "shop": ("The shop these rules are for (required, once).", ()),
    "timezone": (
        "The shop's IANA time zone (default Asia/Shanghai); every 'day' in the clauses is "
        "the shop's local calendar day.",
        ("O10", "O11"),
    ),
    "routing": ("Routing settings (分流): who answers a buyer's chat.", ("R1", "R2", "R3", "R4")),
    "outreach": ("Outreach settings (人群触达): the weekly cap window and max delay.", ("O2",)),
    "attribute": (
        "Declares a buyer attribute and its type (int, number, string, bool, set); when any "
        "are declared, predicates are type-checked against them.",
        (),
    ),
    "attributes": ("Buyer attributes and their types (int, number, string, bool, set).", ()),
    "crowd": (
        "As a statement: a named predicate over buyer attributes; the buyer is in the crowd "
        "when it holds. In a group: the crowds the group binds, the first matching dimension.",
        ("R5",),
    ),
    "crowds": ("Crowds: name -> predicate over buyer attributes.", ("R5",)),
    "intent": (
        "As a statement: a named predicate over the chat's first message (`message`). "
        "In a group: the intents the group binds (third dimension).",
        ("R5",),
    ),
    "intents": ("Intents: name -> predicate over the chat's first message.", ("R5",)),
    "agent": ("A customer-service agent; `level` 1..5 (default 3) weighs its share.", ("R8",)),
    "agents": (
        "The agents (at the top level: agent id -> {level}; in a group: the group's agents).",
        ("R6", "R8"),
    ),
    "group": (
        "A routing group: binds crowds, products, intents and order states, and names its "
        "agents, mode and robot.",
        ("R5", "R6"),
    ),
    "groups": ("Routing groups, matched crowd > product > intent > order.", ("R5", "R6")),
    "promo": (
        "A promotion (statement), or the promo a campaign belongs to; its last_day schedules "
        "the cart coupon, recall and super discount.",
        ("O6", "O7", "O8", "O11"),
    ),
    "promos": ("Promotions: name -> {presale_start, last_day}.", ("O11",)),
    "facts": (
        "The shop's standing with the platform: privilege grants and thresholds.",
        ("O9", "O7"),
    ),
    "campaign": (
        "An outreach campaign: `campaign NAME KIND { ... }` with its schedule, copy, coupon "
        "and targets.",
        ("O1", "O12"),
    ),
    "campaigns": ("Outreach campaigns, each with a name and a kind.", ("O1", "O12")),
    # routing settings
    "when_nobody_online": (
        "Where a chat goes when no agent is available: main_account, proxy_account or "
        "message_pool (default).",
        ("R1",),
    ),
    "robot_first": ("The shop robot answers first (and R2d's returning buyers).", ("R4", "R2")),
    "exclusive_direct": ("Send a buyer to their available exclusive agent.", ("R3",)),
    "busy_threshold": (
        "An agent is busy above this many pending buyers (default 4).",
        ("R8",),
    ),
    "sticky": (
        "Last-contact stickiness: `hold` (default 24h) and `window` (default 72h).",
        ("R2",),
    ),
    "hold": ("Within this age the last contact's agent gets the chat even if suspended.", ("R2",)),
    "window": ("Beyond this age the last contact no longer counts.", ("R2",)),
    "drain_pool": ("Hand out message-pool chats when agents come online.", ("R1",)),
    # outreach settings
    "cap_window": (
        "At most one regular batch message per consumer per this window (default 7d).",
        ("O2", "O11"),
    ),
    "max_delay": (
        "A campaign first planned later than this after its send time is missed (default 24h).",
        ("O12",),
    ),
    # agents and groups
    "level": ("Agent level 1..5 (default 3): weighs its share of chats.", ("R8", "C4")),
    "product": ("The product ids a group binds (second dimension).", ("R5",)),
    "order": (
        "The order states a group binds (fourth dimension): no_active_order, unpaid, "
        "paid_unshipped, shipped, completed, after_sale.",
        ("R5",),
    ),
    "mode": (
        "How a group picks an agent: efficiency (default) or conversion low|medium|high "
        "(groups of 5 or fewer agents use efficiency).",
        ("R8", "R9"),
    ),
    "efficiency": ("Efficiency mode (效率优先): level-weighted, busy agents protected.", ("R8",)),
    "conversion": ("Conversion mode (转化优先): weighs conversion rates with busyness.", ("R9",)),
    "robot": ("on: the group's chats go to its robot, group_robot:<group>.", ("R7",)),
    # promos and facts
    "presale_start": ("The first day of the promo window (a date).", ("O11", "O6")),
    "last_day": ("The promo's last day (required): the promo campaigns run around it.", ("O6",)),
    "tool_level": ("The shop's tool level this month (super discount needs advanced).", ("O9",)),
    "relationships_last_month_end": (
        "Cumulative relationships at the end of last month (super discount needs > 10,000).",
        ("O9",),
    ),
    "advanced_relationships_this_month": (
        "Advanced relationships this month (recall needs > 10,000).",
        ("O7",),
    ),
    "grants": (
        "Privileges the platform granted: green_channel, cart_coupon, super_discount.",
        ("O9",),
    ),
    # campaigns
    "name": ("The campaign's name.", ("O1",)),
    "kind": (
        "A campaign's kind (batch, green, cart_coupon, recall, super_discount, new_arrival, "
        "restock), or a coupon's kind (cs_channel for the cart coupon).",
        ("O1", "O3", "O6"),
    ),
    "send_at": (
        "When the campaign is sent; computed for cart_coupon, recall and super_discount.",
        ("O11", "O12"),
    ),
    "date": ("The green channel's date: its send time must lie on it.", ("O5",)),
    "configured_at": (
        "When the campaign was configured: by 21:59 the day before it runs.",
        ("O10",),
    ),
    "created_at": ("When a green channel was created: before 00:00 of its date.", ("O5", "O10")),
    "copy": ("The message text.", ("O1",)),
    "coupon": ("The benefit: a coupon id, optionally with its kind.", ("O1", "O6")),
    "id": ("The coupon's id.", ("O1",)),
    "target": (
        "A target crowd with its own copy and coupon; a consumer in several gets the first "
        "listed one's content.",
        ("O1",),
    ),
    "targets": ("Target crowds, first listed wins.", ("O1",)),
    "segment": ("A recall segment: a crowd with its own copy and coupon (up to 4).", ("O7",)),
    "segments": ("Recall segments (up to 4), each a crowd with its own content.", ("O7",)),
    # predicate words
    "and": ("Both predicates hold (binds tighter than or).", ()),
    "or": ("Either predicate holds.", ()),
    "not": ("Negation (binds tightest); `not in` for list non-membership.", ()),
    "in": ("Membership in a literal list of the attribute's type; `x in []` never holds.", ()),
    "contains": ("Substring of a string attribute, or member of a set attribute.", ()),
    "contains_any": ("`contains` for any of the listed strings.", ()),
    "true": ("The constant true (a switch: on).", ()),
    "false": ("The constant false (a switch: off).", ()),
    "on": ("Switch on.", ()),
    "off": ("Switch off.", ()),
    "message": (
        "The chat's first message, readable in intents only (in a test's chat: the message "
        "of the chat).",
        ("R5",),
    ),
    # tests (`rulec test`, docs/testing.md): never in the table
    "test": ("A test of these rules: a state, chats or consumers, and what must come out.", ()),
    "tests": ("Tests of these rules (run by `rulec test`; never in the table).", ()),
    "seed": ("The seed of the router's weighted draws in this test (default 0).", ("R8",)),
    "now": ("The moment an outreach test plans at (ISO time with offset).", ("O12",)),
    "contact": ("`contact BUYER AGENT at TIME`: the buyer's last human contact.", ("R2",)),
    "contacts": ("Buyers' last human contacts: buyer -> {agent, time}.", ("R2",)),
    "chat": ("A chat routed in order on the test's state, with what its decision must be.", ()),
    "chats": ("Chats routed in order on the test's state, each with `expect`.", ()),
    "buyer": ("The buyer of a chat.", ("R2",)),
    "time": ("When it happened (ISO time with offset).", ()),
    "status": ("An agent's status in a test: online, suspended or offline.", ("R1", "R2")),
    "pending": ("An agent's pending chats before the test (busy above busy_threshold).", ("R8",)),
    "attrs": ("The buyer's attributes: a record of numbers, strings, bools and lists.", ("R5",)),
    "exclusive_agent": ("The chat's exclusive agent (R3 with exclusive_direct on).", ("R3",)),
    "expect": ("What a chat's decision or a consumer's sends must be.", ()),
    "step": ("The router's decision step (nobody_online, sticky, group, ...).", ("R10",)),
    "candidates": ("The groups left after R5, in declaration order.", ("R5",)),
    "at": ("The time of a chat, contact or cart add.", ()),
    "none": ("No group: the decision names none (e.g. nobody_online, fallback_any).", ()),
    "activity": ("A shop promotion for the super discount (O8), as a record.", ("O8",)),
    "activities": ("Shop promotions for the super discount (O8).", ("O8",)),
    "consumer": ("A consumer planned at `now`, with the sends it must (not) get.", ("O1",)),
    "consumers": ("Consumers planned at `now`, each with `expect`.", ("O1",)),
    "exclusive": ("The consumer is a shop-exclusive buyer (promo privileges).", ("O6",)),
    "interested": ("The consumer showed interest (super discount).", ("O8",)),
    "cart": ("`cart ITEM at TIME`: the consumer added ITEM to the cart.", ("O6",)),
    "cart_adds": ("The consumer's cart adds: [{item, time}].", ("O6",)),
    "purchase": ("`purchase TIME`: the consumer bought something then.", ("O7",)),
    "purchases": ("The consumer's purchase times.", ("O7",)),
    "send": ("`expect send C`: the consumer gets campaign C (with that copy and coupon).", ()),
    "no": ("`expect no send [C [because REASON]]`: no send of C (or nothing at all).", ()),
    "no_send": ("A campaign the consumer must not get (null: nothing at all).", ()),
    "because": ("Why a campaign sent nothing: the planner's reason.", ("O12",)),
}

# Enum values a hover can explain (the meaning, clause).
VALUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "no_active_order": ("Order state: no active order (无活跃订单).", ("R5",)),
    "unpaid": ("Order state: ordered, not paid (拍下未付款).", ("R5",)),
    "paid_unshipped": ("Order state: paid, not shipped (付款未发货).", ("R5",)),
    "shipped": ("Order state: shipped (已发货).", ("R5",)),
    "completed": ("Order state: completed (交易成功).", ("R5",)),
    "after_sale": ("Order state: in after-sales (售后中).", ("R5",)),
    "main_account": ("Nobody online: the shop's main account.", ("R1",)),
    "proxy_account": ("Nobody online: the proxy account.", ("R1",)),
    "message_pool": ("Nobody online: the message pool (default).", ("R1",)),
    "low": ("Conversion strength low.", ("R9",)),
    "medium": ("Conversion strength medium.", ("R9",)),
    "high": ("Conversion strength high: the most uneven shares.", ("R9",)),
    "batch": ("A regular batch campaign, counted toward the weekly cap.", ("O1", "O2")),
    "green": ("Green channel (绿色通道): an extra batch channel on one date.", ("O5",)),
    "cart_coupon": ("Cart coupon (如意令): 20:00 on the eve of the promo's last day.", ("O6",)),
    "recall": ("Unpurchased recall (未购召回): 14:00 on the promo's last day.", ("O7",)),
    "super_discount": ("Super discount (超级折扣): 20:00 on the promo day.", ("O8",)),
    "new_arrival": ("New-arrival reminder (上新提醒): exempt from the cap.", ("O3",)),
    "restock": ("Restock reminder (补货提醒): exempt from the cap.", ("O3",)),
    "green_channel": ("The green channel privilege.", ("O5", "O9")),
}


def meaning(word: str) -> str | None:
    """Markdown explaining `word` (a keyword, YAML key or enum value), or None."""
    entry = KEYWORDS.get(word) or VALUES.get(word)
    if entry is None:
        return None
    text, clauses = entry
    cite = f" — semantics {', '.join(clauses)}" if clauses else ""
    return f"**{word}**: {text}{cite}"


def describe(word: str) -> str:
    """The plain description of a YAML key (for the JSON Schema); KeyError when undocumented."""
    text, clauses = KEYWORDS[word]
    return text + (f" (semantics {', '.join(clauses)})" if clauses else "")
