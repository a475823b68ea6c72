"""The domain's words, defined once for the compiler, the table schema and the runtime alike."""

from __future__ import annotations

# R5: the matching dimensions, in priority order (the decision tree narrows in this order).
DIMS = ("crowd", "product", "intent", "order")

# The order states a chat's `order` field and an `order` predicate may name.
ORDER_STATES = ("no_active_order", "unpaid", "paid_unshipped", "shipped", "completed", "after_sale")

# Targets a decision may name besides `agent:<id>` and `group_robot:<group>` (contract: Decision).
ROBOT = "robot"
MESSAGE_POOL = "message_pool"
# R1: where chats go when nobody is online (`when_nobody_online`).
NOBODY_TARGETS = ("main_account", "proxy_account", MESSAGE_POOL)

# Agent statuses of `agent` events and state files.
STATUSES = ("online", "suspended", "offline")

# Group dispatch modes (R6) and conversion strengths.
EFFICIENCY = "efficiency"
CONVERSION = "conversion"
MODES = (EFFICIENCY, CONVERSION)
STRENGTHS = ("low", "medium", "high")

# Declared attribute types.
ATTR_TYPES = ("int", "number", "string", "bool", "set")

# Campaign kinds (O1–O10) and the privileges a campaign may be granted.
KINDS = ("batch", "green", "cart_coupon", "recall", "super_discount", "new_arrival", "restock")
# Kinds timed by their promo (they need `promo`; the others need `send_at`), and kinds that
# send to crowds (they need `targets`; a green campaign also needs its `date`).
PROMO_KINDS = ("cart_coupon", "recall", "super_discount")
TARGETED_KINDS = ("batch", "green", "new_arrival", "restock")
GRANTS = ("green_channel", "cart_coupon", "super_discount")
# A campaign's fields: its YAML keys and its record in a table (docs/table-format.md).
CAMPAIGN_FIELDS = (
    "name",
    "kind",
    "send_at",
    "promo",
    "date",
    "configured_at",
    "created_at",
    "copy",
    "coupon",
    "targets",
    "segments",
)

# The shop's zone when its rules name none.
DEFAULT_ZONE = "Asia/Shanghai"

# The `step` of a routing decision (contract: Decision): which rule made the choice.
STEP_NOBODY_ONLINE = "nobody_online"
STEP_STICKY = "sticky"
STEP_STICKY_GROUP = "sticky_group"
STEP_STICKY_OFFLINE_ROBOT = "sticky_offline_robot"
STEP_EXCLUSIVE = "exclusive"
STEP_ROBOT_FIRST = "robot_first"
STEP_GROUP = "group"
STEP_GROUP_ROBOT = "group_robot"
STEP_FALLBACK_ANY = "fallback_any"
STEPS = (
    STEP_NOBODY_ONLINE,
    STEP_STICKY,
    STEP_STICKY_GROUP,
    STEP_STICKY_OFFLINE_ROBOT,
    STEP_EXCLUSIVE,
    STEP_ROBOT_FIRST,
    STEP_GROUP,
    STEP_GROUP_ROBOT,
    STEP_FALLBACK_ANY,
)
# Steps whose choice came out of R5 matching, so other matching groups may be shown as losers.
MATCHED_STEPS = (STEP_GROUP, STEP_GROUP_ROBOT, STEP_FALLBACK_ANY)
