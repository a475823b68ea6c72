"""`rulec lsp`, the real process spoken to over stdio: sync, diagnostics, hover, navigation,
completion, formatting, rename, code actions and the outline, in files with Chinese names and a
character outside the BMP (𠮷: two UTF-16 units), so every position is checked in LSP units."""

import io
import pathlib

import pytest

from rulec.cli.fmt_cmd import canonical
from rulec.cli.main import main
from tests.lsp.lsp_client import LspClient, position

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TEA = (HERE / "files" / "tea.rules").read_text(encoding="utf-8")
YAML = (ROOT / "rules" / "shop-double12.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    c = LspClient("--debounce-ms", "20")
    c.root = tmp_path_factory.mktemp("ws")
    c.init = c.initialize(c.root)
    yield c
    assert c.close() == 0


def uri_of(client, name):
    return (client.root / name).as_uri()


def at(text, needle, offset=0, nth=0):
    return position(text, needle, offset, nth)


def span(text, needle, nth=0):
    start = position(text, needle, 0, nth)
    return {"start": start, "end": position(text, needle, len(needle), nth)}


def ask(client, method, uri, pos, **more):
    return client.call(method, {"textDocument": {"uri": uri}, "position": pos, **more})


def test_initialize_announces_every_feature_in_utf16(client):
    caps = client.init["capabilities"]
    for feature in (
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "completionProvider",
        "documentFormattingProvider",
        "documentSymbolProvider",
        "renameProvider",
        "codeActionProvider",
    ):
        assert caps.get(feature), feature
    assert caps["positionEncoding"] == "utf-16"
    assert client.init["serverInfo"]["name"] == "rulec"


def test_a_clean_file_has_no_diagnostics(client):
    assert client.open(uri_of(client, "clean.rules"), TEA)["diagnostics"] == []


def test_a_misspelt_agent_is_reported_where_it_is_with_a_quick_fix(client):
    uri = uri_of(client, "typo.rules")
    text = TEA.replace("agents 小美, 婷婷; crowd", "agents 小每, 婷婷; crowd")
    diags = client.open(uri, text)["diagnostics"]
    assert [d["code"] for d in diags] == ["N200"]
    d = diags[0]
    assert d["range"] == span(text, "小每")  # after 𠮷: UTF-16 columns, not code points
    assert d["source"] == "rulec" and d["severity"] == 1
    assert "unknown agent `小每`" in d["message"] and "did you mean `小美`?" in d["message"]
    fixes = client.call(
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}},
    )
    assert [f["title"] for f in fixes] == ["Change to `小美`"]
    assert fixes[0]["kind"] == "quickfix"
    assert fixes[0]["edit"]["changes"][uri] == [{"range": span(text, "小每"), "newText": "小美"}]


def test_did_change_rechecks_the_new_text(client):
    uri = uri_of(client, "change.rules")
    client.open(uri, TEA)
    bad = span(TEA, "after_sale")
    for version, new in ((2, "aftersale"), (3, "after_sal"), (4, "aftr_sale")):
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": bad, "text": new}],
            },
        )
        bad = {
            "start": bad["start"],
            "end": {**bad["start"], "character": bad["start"]["character"] + len(new)},
        }
    diags = client.diagnostics(uri, 4)["diagnostics"]
    assert [d["code"] for d in diags] == ["V401"]
    assert "unknown order state `aftr_sale`" in diags[0]["message"]
    fixed = {"start": bad["start"], "end": bad["end"]}
    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 5},
            "contentChanges": [{"range": fixed, "text": "after_sale"}],
        },
    )
    assert client.diagnostics(uri, 5)["diagnostics"] == []
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})


def test_a_syntax_error_is_a_p100_at_its_token_with_a_fix(client):
    uri = uri_of(client, "syntax.rules")
    text = TEA.replace("  order after_sale", "  ordr after_sale")
    diags = client.open(uri, text)["diagnostics"]
    assert [d["code"] for d in diags] == ["P100"]
    assert diags[0]["range"]["start"] == at(text, "ordr")
    assert "did you mean `order`?" in diags[0]["message"]
    fixes = client.call(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": diags[0]["range"],
            "context": {"diagnostics": diags},
        },
    )
    assert fixes[0]["edit"]["changes"][uri] == [{"range": span(text, "ordr"), "newText": "order"}]
    # a keyword still has its meaning while the file does not parse
    hover = ask(client, "textDocument/hover", uri, at(text, "intent 退款\n", 1))
    assert "semantics R5" in hover["contents"]["value"]


def test_hover_names_and_keywords(client):
    uri = uri_of(client, "hover.rules")
    client.open(uri, TEA)
    crowd_use = at(TEA, "𠮷客", nth=1)  # in the group line, after 𠮷组
    h = ask(client, "textDocument/hover", uri, crowd_use)
    assert "crowd **𠮷客** = `member_level >= 3`" in h["contents"]["value"]
    assert h["range"] == span(TEA, "𠮷客", nth=1)
    group = ask(client, "textDocument/hover", uri, at(TEA, "售后组"))["contents"]["value"]
    assert "agents: 婷婷" in group and "intent: 退款" in group and "order: after_sale" in group
    agent = ask(client, "textDocument/hover", uri, at(TEA, "小美"))["contents"]["value"]
    assert "level 5" in agent and "groups: 𠮷组, 上新组" in agent
    campaign = ask(client, "textDocument/hover", uri, at(TEA, "d12-cart"))["contents"]["value"]
    assert "sends at 2023-12-11 20:00" in campaign
    assert "configured by 2023-12-10 21:59 (O10)" in campaign
    keyword = ask(client, "textDocument/hover", uri, at(TEA, "order after_sale", 2))
    assert "semantics R5" in keyword["contents"]["value"]
    value = ask(client, "textDocument/hover", uri, at(TEA, "after_sale", 3))
    assert "售后中" in value["contents"]["value"]
    assert ask(client, "textDocument/hover", uri, at(TEA, "# 茶铺", 1)) is None


def test_definition_and_references(client):
    uri = uri_of(client, "nav.rules")
    client.open(uri, TEA)
    found = ask(client, "textDocument/definition", uri, at(TEA, "𠮷客", 1, nth=1))
    assert found == [{"uri": uri, "range": span(TEA, "𠮷客")}]
    refs = ask(
        client,
        "textDocument/references",
        uri,
        at(TEA, "小美"),
        context={"includeDeclaration": True},
    )
    assert [r["range"] for r in refs] == [span(TEA, "小美", n) for n in range(3)]
    uses = ask(
        client,
        "textDocument/references",
        uri,
        at(TEA, "double12", nth=1),
        context={"includeDeclaration": False},
    )
    assert [r["range"] for r in uses] == [span(TEA, "double12", 1)]
    attr = ask(client, "textDocument/definition", uri, at(TEA, "member_level", nth=1))
    assert attr == [{"uri": uri, "range": span(TEA, "member_level")}]


def _labels(client, uri, text, version, pos):
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
    )
    result = ask(client, "textDocument/completion", uri, pos)
    return [i["label"] for i in result["items"]]


def test_completion_in_context(client):
    uri = uri_of(client, "complete.rules")
    client.open(uri, TEA)
    text = TEA.replace("  order after_sale\n", "  order \n")
    assert _labels(client, uri, text, 2, at(text, "  order ", 8)) == [
        "no_active_order",
        "unpaid",
        "paid_unshipped",
        "shipped",
        "completed",
        "after_sale",
    ]
    text = TEA.replace("  agents 婷婷\n", "  agents 婷婷, \n")
    assert _labels(client, uri, text, 3, at(text, "  agents 婷婷, ", 12)) == ["小美", "婷婷"]
    text = TEA.replace("  intent 退款\n", "  intent 退款\n  mode \n")
    assert _labels(client, uri, text, 4, at(text, "  mode ", 7)) == ["efficiency", "conversion"]
    text = TEA.replace("  intent 退款\n", "  intent 退款\n  \n")
    assert "robot" in _labels(client, uri, text, 5, at(text, "退款\n  \n", 5))
    text = TEA + "\n"
    top = _labels(client, uri, text, 6, {"line": text.count("\n"), "character": 0})
    assert top[:3] == ["shop", "timezone", "routing"] and "campaign" in top
    text = TEA + "crowd x = "
    pred = _labels(client, uri, text, 7, {"line": text.count("\n"), "character": 10})
    assert {"member_level", "tags", "and", "contains"} <= set(pred)


def test_formatting_is_rulec_fmt(client):
    uri = uri_of(client, "fmt.rules")
    messy = TEA.replace("agent 小美 level 5", "agent   小美   level 5").replace(
        "  agents 婷婷", "agents 婷婷"
    )
    client.open(uri, messy)
    edits = client.call(
        "textDocument/formatting",
        {"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": True}},
    )
    assert len(edits) == 1
    assert edits[0]["newText"] == canonical(messy, "fmt.rules")
    assert edits[0]["range"]["start"] == {"line": 0, "character": 0}
    out = io.StringIO()
    path = HERE / "files" / "tea.rules"
    assert main(["fmt", str(path)], out, io.StringIO()) == 0
    client.open(uri_of(client, "fmt2.rules"), out.getvalue())
    again = client.call(
        "textDocument/formatting",
        {
            "textDocument": {"uri": uri_of(client, "fmt2.rules")},
            "options": {"tabSize": 2, "insertSpaces": True},
        },
    )
    assert again == []


def test_rename_a_crowd_across_the_file(client):
    uri = uri_of(client, "rename.rules")
    client.open(uri, TEA)
    pos = at(TEA, "𠮷客", nth=1)
    prep = ask(client, "textDocument/prepareRename", uri, pos)
    assert prep == {"range": span(TEA, "𠮷客", 1), "placeholder": "𠮷客"}
    edit = ask(client, "textDocument/rename", uri, pos, newName="新客")
    edits = edit["changes"][uri]
    assert sorted(
        (e["range"]["start"]["line"], e["range"]["start"]["character"]) for e in edits
    ) == [(4, 6), (9, 33)]
    assert all(e["newText"] == "新客" for e in edits)
    bad = client.request(
        "textDocument/rename", {"textDocument": {"uri": uri}, "position": pos, "newName": "a b"}
    )
    assert "not a plain name" in bad["error"]["message"]
    taken = client.request(
        "textDocument/rename", {"textDocument": {"uri": uri}, "position": pos, "newName": "爱上新"}
    )
    assert "declared already" in taken["error"]["message"]
    assert ask(client, "textDocument/prepareRename", uri, at(TEA, "order after_sale")) is None


def test_document_symbols_are_the_declarations(client):
    uri = uri_of(client, "outline.rules")
    client.open(uri, TEA)
    symbols = client.call("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert [(s["name"], s["detail"]) for s in symbols] == [
        ("山野茶铺", "shop"),
        ("member_level", "attribute"),
        ("tags", "attribute"),
        ("𠮷客", "crowd"),
        ("爱上新", "crowd"),
        ("退款", "intent"),
        ("小美", "agent"),
        ("婷婷", "agent"),
        ("𠮷组", "group"),
        ("售后组", "group"),
        ("上新组", "group"),
        ("double12", "promo"),
        ("d12-cart", "campaign"),
    ]
    assert symbols[8]["selectionRange"] == span(TEA, "𠮷组")


def test_the_yaml_form(client):
    uri = uri_of(client, "shop.yaml")
    text = YAML.replace("order: [after_sale, completed]", "order: [aftersale, completed]")
    diags = client.open(uri, text, "yaml")["diagnostics"]
    assert [d["code"] for d in diags] == ["V401"]
    assert diags[0]["range"] == span(text, "aftersale")
    fix = client.call(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": diags[0]["range"],
            "context": {"diagnostics": diags},
        },
    )
    assert fix[0]["edit"]["changes"][uri][0]["newText"] == "after_sale"
    crowd = ask(client, "textDocument/definition", uri, at(text, "高价值会员", nth=1))
    assert crowd == [{"uri": uri, "range": span(text, "高价值会员")}]
    hover = ask(client, "textDocument/hover", uri, at(text, "d12-recall"))["contents"]["value"]
    assert "sends at 2023-12-12 14:00" in hover
    refs = ask(
        client,
        "textDocument/references",
        uri,
        at(text, "double12"),
        context={"includeDeclaration": True},
    )
    assert len(refs) == 4  # the promo and the three promo campaigns
    edited = text.replace("    order: [paid_unshipped, shipped]\n", "    order: [\n")
    labels = _labels(client, uri, edited, 2, at(edited, "    order: [", 12))
    assert "paid_unshipped" in labels
    edited = text.replace("    robot: true\n", "    \n")
    keys = _labels(client, uri, edited, 3, at(edited, "冲泡咨询]\n    ", 10))
    assert "robot" in keys and "mode" in keys


def test_utf8_positions_when_the_client_asks_for_them(tmp_path):
    c = LspClient()
    try:
        init = c.initialize(tmp_path, ["utf-8"])
        assert init["capabilities"]["positionEncoding"] == "utf-8"
        text = TEA.replace("crowd 𠮷客 }", "crowd 𠮷克 }")
        diags = c.open((tmp_path / "u.rules").as_uri(), text)["diagnostics"]
        line = text.splitlines()[9]
        start = len(line[: line.index("𠮷克")].encode("utf-8"))
        assert [d["range"]["start"] for d in diags if d["code"] == "W504"] == [
            {"line": 9, "character": start}
        ]
    finally:
        assert c.close() == 0
