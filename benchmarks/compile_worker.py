"""Times compile_source on source files, in whatever rulec is first on sys.path (run by
bench_compile.py, once with this checkout and once with an older one for the baseline).

    python benchmarks/compile_worker.py REPEAT FILE...   # prints one JSON line per file

Each line: the file, the minimum CPU seconds of REPEAT whole compiles, the CPU seconds of
each stage in the fastest of REPEAT staged runs (parse, check passes, lowering, packing), and
the sha256 of the table bytes. The first compile of each surface (building the parser) runs
before the clock starts."""

from __future__ import annotations

import contextlib
import hashlib
import json
import pathlib
import sys
import time


def _cpu(fn, *args):
    t0 = time.process_time()
    out = fn(*args)
    return time.process_time() - t0, out


def stages(text: str, file: str) -> dict:
    """CPU seconds of each compile stage, called one after the other as compile_source does
    (for .json, the fast path's parse stands in for the parse)."""
    from rulec import __version__
    from rulec.compiler.frontend_json import parse_json_fast
    from rulec.compiler.passes import lower
    from rulec.compiler.pipeline import check_model, parse_source
    from rulec.table.format import pack

    def parse():
        shop = parse_json_fast(text, file) if file.endswith(".json") else None
        return shop if shop is not None else parse_source(text, file)

    out = {}
    out["parse"], shop = _cpu(parse)
    out["check"], diags = _cpu(check_model, shop)
    assert not diags, diags[:3]
    out["lower"], body = _cpu(lower.run, shop)
    out["pack"], _ = _cpu(pack, body, b"\0" * 32, __version__)
    return out


def _as_compile_source():
    """The stages run as compile_source runs them: with the cycle collector paused where the
    checkout pauses it (since issue 15), as they are in the whole compile."""
    try:
        from rulec.common.gc_pause import gc_paused
    except ImportError:
        return contextlib.nullcontext()
    return gc_paused()


def main(argv: list[str]) -> int:
    from rulec.compiler.pipeline import compile_source

    repeat, files = int(argv[0]), argv[1:]
    for suffix in {pathlib.Path(f).suffix for f in files}:  # builds the parser
        warm = (
            "shop w\ncrowd c = a > 1\n"
            if suffix == ".rules"
            else '{"shop": "w", "crowds": {"c": "a > 1"}}'
        )
        compile_source(warm, "warm" + suffix)
    for f in files:
        data = pathlib.Path(f).read_bytes()
        best, digest = float("inf"), None
        for _ in range(repeat):
            secs, result = _cpu(compile_source, data, f)
            assert result.ok, [(d.code, d.message) for d in result.errors[:3]]
            best, digest = min(best, secs), hashlib.sha256(result.data).hexdigest()
        text = data.decode("utf-8")
        with _as_compile_source():
            runs = [stages(text, f) for _ in range(repeat)]
        fastest = min(runs, key=lambda r: sum(r.values()))
        print(json.dumps({"file": f, "cpu": best, "stages": fastest, "sha256": digest}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
