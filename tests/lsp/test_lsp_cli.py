"""`rulec lsp` on the command line: usage errors exit 2; save and close publish diagnostics."""

import io

from rulec.cli.main import main
from tests.lsp.lsp_client import LspClient


def test_usage_errors_exit_2():
    err = io.StringIO()
    assert main(["lsp", "--debounce-ms", "-1"], io.StringIO(), err) == 2
    assert "--debounce-ms must be 0..10000" in err.getvalue()
    err = io.StringIO()
    assert main(["lsp", "--port", "1"], io.StringIO(), err) == 2
    assert "unrecognized arguments" in err.getvalue()
    out = io.StringIO()
    assert main(["lsp", "--help"], out, io.StringIO()) == 0
    assert "--debounce-ms" in out.getvalue()


def test_listed_in_the_usage():
    out = io.StringIO()
    assert main(["--help"], out, io.StringIO()) == 0
    assert "  lsp " in out.getvalue() and "  schema " in out.getvalue()


def test_save_rechecks_and_close_clears(tmp_path):
    # `--stdio` is what VS Code's client adds to the command line
    client = LspClient("--stdio", "--debounce-ms", "10000")
    try:
        client.initialize(tmp_path)
        uri = (tmp_path / "s.rules").as_uri()
        text = "shop s\nagent a\ngroup g { agents b }\n"
        assert [d["code"] for d in client.open(uri, text)["diagnostics"]] == ["W501", "N200"]
        fixed = text.replace("agents b", "agents a")
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]},
        )
        # the debounce is 10 s: the save is what makes the server check now
        client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        assert client.diagnostics(uri, 2)["diagnostics"] == []
        client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        assert client.diagnostics(uri)["diagnostics"] == []
    finally:
        assert client.close() == 0
