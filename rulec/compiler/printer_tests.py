"""Tests (model.TestCase) printed back: `.rules` lines and YAML lines, read back as the same model."""

from __future__ import annotations

from typing import Any

from rulec.compiler import model as m
from rulec.compiler.printer_rules import ID_RE, attr_name, coupon, literal, name, quote, timeish

CHAT_FIELDS = ("product", "order", "intent", "message", "exclusive_agent")


def tword(text: object) -> str:
    """An enum-like value inside a test (status, step, reason, target kind): only a word can
    stand where these do, so a keyword needs no quotes (`expect step group`). Names that an
    optional item may follow are printed by `name`, which quotes keywords."""
    s = str(text)
    return s if ID_RE.fullmatch(s) else quote(s)


def _value(v: object) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(literal(x) for x in v) + "]"
    return literal(v)


def record(fields: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{attr_name(k)}: {_value(v)}" for k, v in fields.items()) + "}"


def _block(head: str, lines: list[str]) -> list[str]:
    return [f"{head} {{"] + [f"  {ln}" for ln in lines] + ["}"]


def _target(text: str) -> str:
    kind, _, rest = str(text).partition(":")
    return tword(kind) + (f" {name(rest)}" if rest else "")


def chat_lines(c: m.TestChat) -> list[str]:
    out = []
    for key in CHAT_FIELDS:
        v = getattr(c, key)
        if v is not None:
            text = quote(v.value) if key == "message" else name(v.value)
            out.append(f"{key} {tword(v.value) if key == 'order' else text}")
        if key == "intent" and c.crowds:
            out.append("crowds " + ", ".join(name(r.name) for r in c.crowds))
    if c.attrs is not None:
        out.append(f"attrs {record(c.attrs.value)}")
    if c.target is not None:
        out.append(f"expect target {_target(c.target.value)}")
    if c.step is not None:
        out.append(f"expect step {tword(c.step.value)}")
    if c.group is not None:
        g = c.group.value
        out.append(f"expect group {'none' if g is None else name(g)}")
    if c.candidates is not None:
        out.append(("expect candidates " + ", ".join(name(r.name) for r in c.candidates)).rstrip())
    head = f"chat {name(c.buyer.name)}" + (f" at {timeish(c.time.value)}" if c.time else "")
    return _block(head, out)


def send_line(e: m.SendExpect) -> str:
    if e.sent:
        body = ([f"copy {quote(e.copy)}"] if e.copy is not None else []) + (
            [coupon(e.coupon)] if e.coupon is not None else []
        )
        tail = f" {{ {'; '.join(body)} }}" if body else ""
        assert e.campaign is not None  # `expect send` always names its campaign
        return f"expect send {name(e.campaign.name)}{tail}"
    text = "expect no send"
    if e.campaign is not None:
        text += f" {name(e.campaign.name)}"
        if e.reason is not None:
            text += f" because {tword(e.reason.value)}"
    return text


def consumer_lines(c: m.TestConsumer) -> list[str]:
    out = []
    if c.attrs is not None:
        out.append(f"attrs {record(c.attrs.value)}")
    if c.crowds:
        out.append("crowds " + ", ".join(name(r.name) for r in c.crowds))
    for key in ("exclusive", "interested"):
        v = getattr(c, key)
        if v is not None:
            out.append(f"{key} {'on' if v.value else 'off'}")
    out += [f"cart {name(i.name)} at {timeish(t.value)}" for i, t in c.cart_adds]
    out += [f"purchase {timeish(t.value)}" for t in c.purchases]
    out += [send_line(e) for e in c.expects]
    return _block(f"consumer {name(c.id.name)}", out)


def test_lines(t: m.TestCase) -> list[str]:
    """The `.rules` block of one test."""
    out = []
    if t.seed is not None:
        out.append(f"seed {int(t.seed.value)}")
    if t.now is not None:
        out.append(f"now {timeish(t.now.value)}")
    for a in t.agents:
        extra = f" pending {int(a.pending.value)}" if a.pending is not None else ""
        if a.conversion is not None:
            extra += f" conversion {literal(a.conversion.value)}"
        out.append(f"agent {name(a.id.name)} {tword(a.status.value)}{extra}")
    out += [
        f"contact {name(c.buyer.name)} {name(c.agent.name)} at {timeish(c.time.value)}"
        for c in t.contacts
    ]
    for c in t.chats:
        out += chat_lines(c)
    out += [f"activity {name(a.id.name)} {record(a.fields.value)}" for a in t.activities]
    for con in t.consumers:
        out += consumer_lines(con)
    return _block(f"test {name(t.name)}", out)


# -- YAML ------------------------------------------------------------------------------------
def yaml_lines(t: m.TestCase) -> list[str]:
    """The YAML list item of one test under `tests:`."""
    from rulec.compiler.printer_yaml import coupon as ycoupon
    from rulec.compiler.printer_yaml import dq, scalar

    def flow(d: dict[str, Any]) -> str:
        return "{" + ", ".join(f"{scalar(k)}: {yvalue(v)}" for k, v in d.items()) + "}"

    def yvalue(v: object) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(yvalue(x) for x in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            text = repr(v)  # YAML 1.1 reads a float only with a dot: 1e+20 -> 1.0e+20
            mant, e, exp = text.partition("e")
            return (mant if "." in mant else mant + ".0") + e + exp
        if isinstance(v, int):
            return str(v)
        return dq(v)

    out = [f"  - name: {scalar(t.name)}"]
    if t.seed is not None:
        out.append(f"    seed: {int(t.seed.value)}")
    if t.now is not None:
        out.append(f"    now: {dq(t.now.value)}")
    if t.agents:
        out.append("    agents:")
        out += [f"      {scalar(a.id.name)}: {flow(a.state())}" for a in t.agents]
    if t.contacts:
        out.append("    contacts:")
        out += [
            f"      {scalar(c.buyer.name)}: {{agent: {scalar(c.agent.name)}, "
            f"time: {dq(c.time.value)}}}"
            for c in t.contacts
        ]
    if t.chats:
        out.append("    chats:")
        for c in t.chats:
            lines = [f"buyer: {scalar(c.buyer.name)}"]
            if c.time is not None:
                lines.append(f"time: {dq(c.time.value)}")
            for key in CHAT_FIELDS:
                v = getattr(c, key)
                if v is not None:
                    lines.append(f"{key}: {dq(v.value)}")
            if c.crowds:
                lines.append(f"crowds: [{', '.join(scalar(r.name) for r in c.crowds)}]")
            if c.attrs is not None:
                lines.append(f"attrs: {flow(c.attrs.value)}")
            exp = []
            for key in ("target", "step"):
                v = getattr(c, key)
                if v is not None:
                    exp.append(f"{key}: {dq(v.value)}")
            if c.group is not None:
                g = c.group.value
                exp.append(f"group: {'null' if g is None else scalar(g)}")
            if c.candidates is not None:
                exp.append(f"candidates: [{', '.join(scalar(r.name) for r in c.candidates)}]")
            if exp:
                lines.append("expect: {" + ", ".join(exp) + "}")
            out += ["      - " + lines[0]] + [f"        {ln}" for ln in lines[1:]]
    if t.activities:
        out.append("    activities:")
        out += [f"      - {flow({'id': a.id.name, **a.fields.value})}" for a in t.activities]
    if t.consumers:
        out.append("    consumers:")
        for con in t.consumers:
            lines = [f"consumer: {scalar(con.id.name)}"]
            if con.attrs is not None:
                lines.append(f"attrs: {flow(con.attrs.value)}")
            if con.crowds:
                lines.append(f"crowds: [{', '.join(scalar(r.name) for r in con.crowds)}]")
            for key in ("exclusive", "interested"):
                v = getattr(con, key)
                if v is not None:
                    lines.append(f"{key}: {'true' if v.value else 'false'}")
            if con.cart_adds:
                adds = ", ".join(
                    f"{{item: {scalar(i.name)}, time: {dq(t_.value)}}}" for i, t_ in con.cart_adds
                )
                lines.append(f"cart_adds: [{adds}]")
            if con.purchases:
                lines.append(f"purchases: [{', '.join(dq(p.value) for p in con.purchases)}]")
            if con.expects:
                lines.append("expect:")
                for e in con.expects:
                    key = "send" if e.sent else "no_send"
                    parts = [f"{key}: {'null' if e.campaign is None else scalar(e.campaign.name)}"]
                    if e.copy is not None:
                        parts.append(f"copy: {dq(e.copy)}")
                    if e.coupon is not None:
                        parts.append(f"coupon: {ycoupon(e.coupon)}")
                    if e.reason is not None:
                        parts.append(f"because: {scalar(e.reason.value)}")
                    lines.append("  - {" + ", ".join(parts) + "}")
            out += ["      - " + lines[0]] + [f"        {ln}" for ln in lines[1:]]
    return out
