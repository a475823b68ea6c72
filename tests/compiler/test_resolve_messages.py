"""The resolve pass's fixed messages and hints, whole: the case files check a part of a message
(`# expect: CODE text` is a substring), which a message grown at either end still passes."""

import pytest

from rulec.compiler.pipeline import compile_source

ONE_AGENT = "agents: {a1: {}}\ngroups: {G: {agents: [a1]"


@pytest.mark.parametrize(
    "text,code,message,hints",
    [
        ('shop: ""\n', "V400", "shop name is empty", ()),
        (
            "shop: t\ntimezone: Asia/Shangai\n",
            "V404",
            "unknown time zone 'Asia/Shangai'",
            ("use an IANA zone name such as Asia/Shanghai",),
        ),
        (
            f"shop: t\n{ONE_AGENT}, mode: {{efficiency: high}}}}}}\n",
            "V401",
            "efficiency mode takes no strength",
            (),
        ),
        (
            "shop: t\nrouting: {when_nobody_online: zzz}\n",
            "V401",
            "unknown when_nobody_online target `zzz`",
            ("one of: main_account, proxy_account, message_pool",),
        ),
    ],
    ids=[
        "V400-empty-shop-name",
        "V404-zone-hint",
        "V401-strength-on-efficiency",
        "V401-no-close-name-lists-the-choices",
    ],
)
def test_the_whole_message_and_hints(text, code, message, hints):
    (d,) = compile_source(text, "t.yaml").diagnostics
    assert (d.code, d.message, d.hints) == (code, message, hints)
