"""The OpenAPI 3.0 document of `rulec serve` (served at /openapi.json; a test checks that it
names exactly the app's routes and that schemathesis finds no server error against it)."""

from __future__ import annotations

from rulec import __version__
from rulec.common.vocab import ORDER_STATES, STATUSES

_STR_OR_NULL = {"type": "string", "nullable": True}

CHAT = {
    "type": "object",
    "description": "A chat event of the contract (`type` may be left out).",
    "required": ["buyer", "time"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": ["chat"]},
        "time": {"type": "string", "format": "date-time", "example": "2026-11-23T09:01:00+08:00"},
        "buyer": {"type": "string", "minLength": 1},
        "product": _STR_OR_NULL,
        "order": {"type": "string", "enum": list(ORDER_STATES), "nullable": True},
        "intent": _STR_OR_NULL,
        "crowds": {"type": "array", "items": {"type": "string"}, "nullable": True},
        "attrs": {"type": "object", "nullable": True},
        "message": _STR_OR_NULL,
        "exclusive_agent": _STR_OR_NULL,
    },
}

EVENT = {
    "type": "object",
    "description": "An agent, reply or conversion event of the contract.",
    "required": ["type", "time", "agent"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": ["agent", "reply", "conversion"]},
        "time": {"type": "string", "format": "date-time"},
        "agent": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "buyer": _STR_OR_NULL,
        "rate": {"type": "number", "minimum": 0, "maximum": 1},
    },
}

DECISION = {
    "type": "object",
    "required": ["id", "buyer", "time", "target", "step", "group"],
    "properties": {
        "id": {"type": "string", "description": "decision id (also in the decision log)"},
        "buyer": {"type": "string"},
        "time": {"type": "string"},
        "target": {"type": "string", "example": "agent:bob"},
        "step": {"type": "string"},
        "group": _STR_OR_NULL,
        "trace": {"type": "array", "items": {"type": "string"}},
        "degraded": {"type": "boolean"},
        "via": {"type": "string"},
        "queued_at": {"type": "string"},
    },
}

ERRORS = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "example": "E804"},
                    "message": {"type": "string"},
                    "hints": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}

_SHOP = {"type": "string", "description": "the shop; optional when one shop is served"}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _body(description, item, one, many=None, **more):
    """A request body: an optional `shop`, then `one` item (or `many`, a list of them)."""
    props = {"shop": _SHOP, one: _ref(item)}
    if many:
        props[many] = {"type": "array", "items": _ref(item)}
    props.update(more)
    body = {"type": "object", "additionalProperties": False, "description": description}
    if many is None:
        body["required"] = [one]
    body["properties"] = props
    return body


_TRACE = {"type": "boolean", "default": False, "description": "include the R10 trace"}
ROUTE_BODY = _body(
    "`chat` (one) or `chats` (a batch, decided in order on one table).",
    "Chat", "chat", "chats", trace=_TRACE,
)  # fmt: skip
EXPLAIN_BODY = _body("One chat, routed on a copy of the state.", "Chat", "chat")
EVENTS_BODY = _body("`event` (one) or `events` (applied in order).", "Event", "event", "events")


def _json(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = {
    "400": _json(_ref("Errors"), "bad body (H100, H103, H104, H108, E8xx)"),
    "404": _json(_ref("Errors"), "unknown shop (H102)"),
    "413": _json(_ref("Errors"), "body or batch too large (H101, H105)"),
    "503": _json(_ref("Errors"), "state store unavailable (S9xx)"),
}


def _answer(required, **props):
    """A 200 answer: the shop and the source hash of the table that answered, then `props`."""
    table = {"type": "string", "description": "source hash of the table that decided"}
    return {
        "type": "object",
        "required": ["shop", "table", *required],
        "properties": {"shop": {"type": "string"}, "table": table, **props},
    }


_DECISIONS = {"type": "array", "items": _ref("Decision")}
ROUTE_OK = _answer([], decision=_ref("Decision"), decisions=_DECISIONS)
EXPLAIN_OK = _answer(["decision", "text"], decision=_ref("Decision"), text={"type": "string"})
EVENTS_OK = _answer(["applied", "decisions"], applied={"type": "integer"}, decisions=_DECISIONS)


def _post(summary, body_ref, ok, op_id):
    return {
        "post": {
            "operationId": op_id,
            "summary": summary,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(body_ref)}},
            },
            "responses": {"200": _json(ok), **_ERR},
        }
    }


def _get(summary, ok, op_id, media="application/json", extra=None):
    resp = {"description": "OK", "content": {media: {"schema": ok}}}
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "responses": {"200": resp, **(extra or {})},
        }
    }


_PATH_SHOP = {"name": "shop", "in": "path", "required": True, "schema": {"type": "string"}}

POSTS = {
    "route": ("Route one chat or a batch (R1-R10)", "RouteBody", ROUTE_OK),
    "explain": ("Route one chat without changing state, with the why", "ExplainBody", EXPLAIN_OK),
    "events": ("Apply agent, reply and conversion events", "EventsBody", EVENTS_OK),
}


def document(shops=()) -> dict:
    """The document; `shops` (those served) become the path parameter's allowed values."""
    shop_param = dict(_PATH_SHOP)
    if shops:
        shop_param["schema"] = {"type": "string", "enum": sorted(shops)}
    paths = {}
    for name, (summary, body, ok) in POSTS.items():
        paths[f"/v1/{name}"] = _post(summary, body, ok, name)
        per_shop = _post(summary + " (shop in the path)", body, ok, f"{name}_shop")
        per_shop["parameters"] = [shop_param]
        paths[f"/v1/shops/{{shop}}/{name}"] = per_shop
    status = {"type": "object", "properties": {"status": {"type": "string"}}}
    paths["/v1/tables"] = _get("The tables served", {"type": "object"}, "tables")
    paths["/healthz"] = _get("Liveness", status, "healthz")
    paths["/readyz"] = _get(
        "Readiness: tables loaded", status, "readyz", extra={"503": _json(_ref("Errors"))}
    )
    paths["/metrics"] = _get("Prometheus metrics", {"type": "string"}, "metrics", "text/plain")
    paths["/openapi.json"] = _get("This document", {"type": "object"}, "openapi")
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "rulec serve",
            "version": __version__,
            "description": "Routing decisions over compiled rulec tables (docs/deploy.md).",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Chat": CHAT,
                "Event": EVENT,
                "Decision": DECISION,
                "Errors": ERRORS,
                "RouteBody": ROUTE_BODY,
                "ExplainBody": EXPLAIN_BODY,
                "EventsBody": EVENTS_BODY,
            }
        },
    }
