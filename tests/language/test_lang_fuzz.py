"""Property: whatever text `rulec check` / `rulec fmt` get, only the project's own diagnostics
come out (exit 0 or 1), never an exception or a traceback. Inputs are the example files with
random deletions, insertions and swaps of characters and tokens, token soups, random bytes."""

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lang_helpers import EXAMPLES
from test_lang_parse import CONTRACT

from rulec.cli.main import main
from rulec.compiler.printer_rules import KEYWORDS

RULES_SOURCES = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.rules"))]
RULES_SOURCES.append(CONTRACT)
YAML_SOURCES = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))]
VOCAB = sorted(KEYWORDS) + [
    "{",
    "}",
    ";",
    ",",
    "=",
    ":",
    "[",
    "]",
    "(",
    ")",
    '"',
    "'",
    "#",
    "\n",
    " ",
    "\t",
    "24",
    "24h",
    "7d",
    "-",
    "2023-12-12",
    "2023-12-11T21:59:00+08:00",
    "T",
    "+08:00",
    "小美",
    "售前组",
    "\\",
    "\\u12",
    "\\uD800",
    "1e999",
    "9" * 30,
    "-0",
    "0.5",
    "\x00",
    "\ufeff",
    "\r",
    "\u2028",
    "conversion",
    "high",
    "efficiency",
    "batch",
    "recall",
    "cs_channel",
    "Asia/Shanghai",
    "message",
    "==",
    ">=",
    "!=",
    "*",
    "&",
    "- ",
    "  ",
    "? ",
    "|",
    ">",
    "!!python/object",
    "&a",
    "*a",
    "%YAML",
    "---",
    "...",
    "null",
    "~",
]
SETTINGS = dict(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def mutate(data, text: str) -> str:
    """Apply a few random edits: character or token deletions, insertions, swaps, repeats."""
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        n = len(text)
        op = data.draw(st.sampled_from(["del", "ins", "swap", "dup", "char", "tokswap"]))
        i = data.draw(st.integers(0, n), label="at")
        if op == "del":
            text = text[:i] + text[i + data.draw(st.integers(1, 40)) :]
        elif op == "ins":
            text = text[:i] + data.draw(st.sampled_from(VOCAB)) + text[i:]
        elif op == "char":
            text = text[:i] + data.draw(st.characters()) + text[i + 1 :]
        elif op == "swap" and n > 1:
            j = data.draw(st.integers(0, n - 1))
            a, b = sorted((min(i, n - 1), j))
            text = text[:a] + text[b] + text[a + 1 : b] + text[a] + text[b + 1 :]
        elif op == "dup":
            lines = text.splitlines(keepends=True) or [""]
            k = data.draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[: k + 1] + [lines[k]] + lines[k + 1 :])
        elif op == "tokswap":
            toks = text.split(" ")
            if len(toks) > 1:
                a = data.draw(st.integers(0, len(toks) - 1))
                b = data.draw(st.integers(0, len(toks) - 1))
                toks[a], toks[b] = toks[b], toks[a]
                text = " ".join(toks)
    return text


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def run_all(path):
    for args in (["check", str(path)], ["fmt", str(path)], ["fmt", "--to", "yaml", str(path)]):
        out, err = io.StringIO(), io.StringIO()
        code = main(args, out, err)
        text = err.getvalue()
        assert code in (0, 1), (args, code, text)
        assert "Traceback" not in text
        if code == 1:
            assert (
                "error[" in text or "rulec fmt: error" in text or "not in canonical form" in text
            ), text


def write(path, text):
    path.write_bytes(text.encode("utf-8", "surrogatepass"))


@settings(**SETTINGS)
@given(data=st.data())
def test_mutated_rules_files_give_diagnostics_only(workdir, data):
    text = mutate(data, data.draw(st.sampled_from(RULES_SOURCES)))
    path = workdir / "m.rules"
    write(path, text)
    run_all(path)


@settings(**SETTINGS)
@given(data=st.data())
def test_mutated_yaml_files_give_diagnostics_only(workdir, data):
    text = mutate(data, data.draw(st.sampled_from(YAML_SOURCES)))
    path = workdir / "m.yaml"
    write(path, text)
    run_all(path)


@settings(**SETTINGS)
@given(tokens=st.lists(st.sampled_from(VOCAB + ["shop s\n", "a", "b", "1"]), max_size=60))
def test_token_soup_gives_diagnostics_only(workdir, tokens):
    path = workdir / "t.rules"
    write(path, " ".join(tokens))
    run_all(path)


@settings(**SETTINGS)
@given(blob=st.binary(max_size=300), suffix=st.sampled_from([".rules", ".yaml"]))
def test_random_bytes_give_diagnostics_only(workdir, blob, suffix):
    path = workdir / f"b{suffix}"
    path.write_bytes(blob)
    run_all(path)
