"""Fixtures for compiler tests: write a YAML (or .rules) source to a temp file and compile it."""

import json

import pytest

from rulec.compiler.pipeline import compile_source

BASE = {"shop": "t", "agents": {"a1": {}}, "groups": {"G": {"agents": ["a1"]}}}


@pytest.fixture
def compile_yaml():
    """compile_yaml(text_or_dict) -> CompileResult (file name t.yaml)."""

    def run(src, file="t.yaml", now=None):
        if isinstance(src, dict):
            src = json.dumps(src, ensure_ascii=False)
        return compile_source(src, file, now=now)

    return run


def codes(result):
    return [d.code for d in result.diagnostics]
