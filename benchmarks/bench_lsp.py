"""Language server speed (issue 17 target: diagnostics for a 1,000-group file within 300 ms of a
change): the real `rulec lsp` process end to end, and the parts in process against the full
check of the same text (the baseline)."""

import pathlib
import time

import pytest

from benchmarks.gen_rules import shop_source
from rulec.cli.fmt_cmd import canonical
from rulec.compiler.pipeline import check_source
from rulec.lsp.incremental import IncrementalRules
from tests.lsp.lsp_client import LspClient

GROUPS, CROWDS = 1000, 200


@pytest.fixture(scope="module")
def rules_text():
    return canonical(shop_source(GROUPS, CROWDS), "bench.json", to="rules")


def _edits(text, n):
    """n texts, each with one agent's level changed from the text before."""
    lines = text.split("\n")
    at = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["agent", "a7"])
    out = []
    for i in range(n):
        lines[at] = f"agent a7 level {1 + i % 5}"
        out.append("\n".join(lines))
    return out


def test_full_check_baseline(benchmark, rules_text):
    result = benchmark.pedantic(check_source, args=(rules_text, "bench.rules"), rounds=3)
    assert result.ok


def test_incremental_check_one_word_changed(benchmark, rules_text):
    inc = IncrementalRules()
    check_source(rules_text, "bench.rules", parse=inc.parse)
    texts = iter(_edits(rules_text, 100))
    result = benchmark.pedantic(
        lambda: check_source(next(texts), "bench.rules", parse=inc.parse), rounds=10
    )
    assert result.ok and inc.reused == len(inc._parsed) - 1


def test_incremental_check_line_inserted_at_the_top(benchmark, rules_text):
    inc = IncrementalRules()
    check_source(rules_text, "bench.rules", parse=inc.parse)
    texts = iter(_lines_on_top(rules_text, 100))
    result = benchmark.pedantic(
        lambda: check_source(next(texts), "bench.rules", parse=inc.parse), rounds=10
    )
    assert result.ok


def _lines_on_top(text, n):
    """n texts, each with one more comment line on top (every statement moves down)."""
    return ["# x\n" * (i + 1) + text for i in range(n)]


@pytest.mark.parametrize("edit", ["word", "line"])
def test_server_change_to_diagnostics(benchmark, rules_text, tmp_path, edit):
    """didChange -> publishDiagnostics of that version, with the default 75 ms debounce."""
    client = LspClient()
    try:
        client.initialize(tmp_path)
        uri = (tmp_path / "bench.rules").as_uri()
        client.open(uri, rules_text)
        texts = iter((_edits if edit == "word" else _lines_on_top)(rules_text, 100))
        version = [1]

        def change():
            version[0] += 1
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version[0]},
                    "contentChanges": [{"text": next(texts)}],
                },
            )
            return client.diagnostics(uri, version[0])

        note = benchmark.pedantic(change, rounds=10)
        assert note["diagnostics"] == []
    finally:
        assert client.close() == 0


def main():
    """`python -m benchmarks.bench_lsp`: the figures of RESULTS-lsp.md without pytest."""
    text = canonical(shop_source(GROUPS, CROWDS), "bench.json", to="rules")
    print(f"{GROUPS} groups, {CROWDS} crowds: {len(text.splitlines())} lines")

    def median(f, n):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return sorted(times)[n // 2]

    full = median(lambda: check_source(text, "bench.rules"), 3)
    inc = IncrementalRules()
    check_source(text, "bench.rules", parse=inc.parse)
    edits = iter(_edits(text, 50))
    word = median(lambda: check_source(next(edits), "bench.rules", parse=inc.parse), 15)
    tops = iter(_lines_on_top(text, 50))
    line = median(lambda: check_source(next(tops), "bench.rules", parse=inc.parse), 15)
    print(f"full check (baseline)        {full * 1000:7.0f} ms  1.00")
    print(f"incremental, a word changed  {word * 1000:7.0f} ms  {word / full:.2f}")
    print(f"incremental, a line on top   {line * 1000:7.0f} ms  {line / full:.2f}")
    root = pathlib.Path("/tmp")
    client = LspClient()
    try:
        client.initialize(root)
        uri = (root / "bench-lsp.rules").as_uri()
        client.open(uri, text)
        edits = iter(_edits(text, 50))
        version = [1]

        def change():
            version[0] += 1
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version[0]},
                    "contentChanges": [{"text": next(edits)}],
                },
            )
            client.diagnostics(uri, version[0])

        e2e = median(change, 15)
        print(f"server: didChange -> diagnostics (75 ms debounce) {e2e * 1000:7.0f} ms")
    finally:
        client.close()


if __name__ == "__main__":
    main()
