"""The JSON Schema of the YAML/JSON form, built from the YAML frontend's key tables, the enums the
checker enforces and the keyword docs, so a key added to the frontend cannot be left out."""

from __future__ import annotations

from rulec.common import vocab
from rulec.compiler import frontend_yaml as fy
from rulec.compiler import model as m
from rulec.compiler.keyword_docs import describe

SCHEMA_ID = "https://rulec.invalid/schema/rules.schema.json"

# A name or value as the frontend reads it: any scalar but null (an unquoted product id such as
# 620011223344 is a YAML integer, and the frontend takes its text).
NAME = {"$ref": "#/$defs/name"}
DURATION = {"$ref": "#/$defs/duration"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
TEXT = {"$ref": "#/$defs/text"}


def _enum(values, what):
    return {"type": "string", "enum": list(values), "description": what}


def _names(item=None):
    """A list of names, or nothing written (null reads as an empty list)."""
    return {"type": ["array", "null"], "items": item or NAME}


def _object(keys, types, required=(), nullable=False):
    """A mapping with exactly the frontend's `keys`; `types` gives each key's schema."""
    props = {}
    for key in keys:
        props[key] = {**types[key], "description": describe(key)}  # KeyError: undocumented key
    out = {
        "type": ["object", "null"] if nullable else "object",
        "properties": props,
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    return out


def _coupon():
    fields = _object(fy.COUPON_KEYS, {"id": NAME, "kind": NAME}, required=("id",))
    return {"anyOf": [NAME, fields]}


def _target():
    types = {"crowd": NAME, "copy": TEXT, "coupon": {"$ref": "#/$defs/coupon"}}
    return _object(fy.TARGET_KEYS, types, required=("crowd",))


def _mode():
    strength = _enum(vocab.STRENGTHS, "conversion strength")
    conversion = {
        "type": "object",
        "properties": {"conversion": strength},
        "required": ["conversion"],
        "additionalProperties": False,
    }
    return {"anyOf": [_enum(vocab.MODES, "group mode"), conversion]}


def _group():
    names = _names()
    types = {
        "agents": names,
        "crowd": names,
        "product": names,
        "intent": names,
        "order": _names(_enum(vocab.ORDER_STATES, "order state")),
        "mode": _mode(),
        "robot": BOOL,
    }
    return _object(fy.GROUP_KEYS, types, nullable=True)


def _campaign():
    targets = {"type": ["array", "null"], "items": {"$ref": "#/$defs/target"}}
    types = {
        "name": NAME,
        "kind": _enum(vocab.KINDS, "campaign kind"),
        "send_at": TEXT,
        "promo": NAME,
        "date": TEXT,
        "configured_at": TEXT,
        "created_at": TEXT,
        "copy": TEXT,
        "coupon": {"$ref": "#/$defs/coupon"},
        "targets": targets,
        "segments": targets,
    }
    out = _object(fy.CAMPAIGN_KEYS, types, required=("name", "kind"))
    out["allOf"] = [  # the fields each kind needs, as the checker's P108 asks for them
        _when_kind(vocab.PROMO_KINDS, {"required": ["promo"]}),
        _when_kind(
            [k for k in vocab.KINDS if k not in vocab.PROMO_KINDS], {"required": ["send_at"]}
        ),
        _when_kind(["green"], {"required": ["date"]}),
        _when_kind(vocab.TARGETED_KINDS, {"anyOf": [_listed("targets"), _listed("segments")]}),
    ]
    return out


def _when_kind(kinds, then):
    return {
        "if": {"properties": {"kind": {"enum": list(kinds)}}, "required": ["kind"]},
        "then": then,
    }


def _listed(key):
    """`key` given as a list of at least one item (null or [] is no list at all)."""
    return {"required": [key], "properties": {key: {"type": "array", "minItems": 1}}}


def _routing():
    types = {
        "when_nobody_online": _enum(vocab.NOBODY_TARGETS, "when nobody is online"),
        "robot_first": BOOL,
        "exclusive_direct": BOOL,
        "busy_threshold": INT,
        "sticky": _object(fy.STICKY_KEYS, {"hold": DURATION, "window": DURATION}, nullable=True),
        "drain_pool": BOOL,
    }
    return _object(fy.ROUTING_KEYS, types, nullable=True)


def _top_level():
    predicates = {"type": ["object", "null"], "additionalProperties": {"$ref": "#/$defs/predicate"}}
    agent = _object(fy.AGENT_KEYS, {"level": INT}, nullable=True)
    # O6-O8 compute send times from a promo's last day: the checker's P108 asks for it
    promo = _object(
        fy.PROMO_KEYS, {"presale_start": TEXT, "last_day": TEXT}, required=("last_day",)
    )
    facts = {
        "tool_level": NAME,
        "relationships_last_month_end": INT,
        "advanced_relationships_this_month": INT,
        "grants": _names(),
    }
    return {
        "shop": NAME,
        "timezone": {"type": "string"},
        "routing": _routing(),
        "attributes": {
            "type": ["object", "null"],
            "additionalProperties": _enum(vocab.ATTR_TYPES, "attribute type"),
        },
        "crowds": predicates,
        "intents": predicates,
        "agents": {"type": ["object", "null"], "additionalProperties": agent},
        "groups": {"type": ["object", "null"], "additionalProperties": {"$ref": "#/$defs/group"}},
        "promos": {"type": ["object", "null"], "additionalProperties": promo},
        "facts": _object(m.FACT_KEYS, facts, nullable=True),
        "outreach": _object(
            fy.OUTREACH_KEYS, {"cap_window": DURATION, "max_delay": DURATION}, nullable=True
        ),
        "campaigns": {"type": ["array", "null"], "items": {"$ref": "#/$defs/campaign"}},
        "tests": {"type": ["array", "null"], "items": _test()},
    }


def _test():
    """A test (docs/language.md): its sections are checked in full by the frontend."""
    from rulec.compiler.frontend_yaml_tests import TEST_KEYS

    any_ = {}
    types = {k: any_ for k in TEST_KEYS}
    types.update(name=NAME, seed=INT, now=TEXT)
    return _object(TEST_KEYS, types, required=("name",))


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of a rules file in its YAML or JSON form."""
    top = _object(fy.TOP_KEYS, _top_level(), required=("shop",))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "rulec rules (YAML/JSON form)",
        "description": "Routing and outreach rules for one shop; see docs/language.md.",
        **top,
        "$defs": {
            "name": {"type": ["string", "number", "boolean"], "description": "a name or id"},
            "text": {"type": ["string", "number", "boolean"]},
            "predicate": {
                "type": ["string", "boolean"],
                "description": 'a predicate, e.g. `member_level >= 3 and city in ["杭州"]`',
            },
            "duration": {
                "type": "string",
                # the frontend's own pattern, made to refuse the empty string
                "pattern": "^(?=\\d)" + fy._DURATION.pattern.removeprefix("^"),
                "description": "a duration with a unit: 90s, 30m, 24h, 7d, 1d12h",
            },
            "group": _group(),
            "campaign": _campaign(),
            "target": _target(),
            "coupon": _coupon(),
        },
    }
