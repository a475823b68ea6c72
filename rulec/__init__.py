"""rulec: a rules-DSL compiler and runtime for e-commerce customer-service routing and outreach.

Public API (docs/architecture.md): compile_file, compile_source, load, Router, Planner,
implementation ("cython" or "python": which matcher is live), and the coded errors every
entry point raises on bad input: RulecError and its kinds TableError, InputError (a bad
event, chat, state or audience line) and StoreError (a state store or ledger that is
unreachable, foreign or damaged).
"""

__version__ = "0.1.0"

__all__ = [
    "compile_file",
    "compile_source",
    "load",
    "Router",
    "Planner",
    "implementation",
    "RulecError",
    "TableError",
    "InputError",
    "StoreError",
    "__version__",
]

from typing import Any

from rulec.errors import InputError, RulecError, StoreError, TableError


def __getattr__(name: str) -> Any:
    # Lazy so that `import rulec` stays cheap and a service loading tables never imports the
    # compiler (or Lark) unless it compiles.
    if name in ("compile_file", "compile_source"):
        from rulec.compiler import pipeline

        return getattr(pipeline, name)
    if name == "load":
        from rulec.table.format import load

        return load
    if name == "Router":
        from rulec.routing.router import Router

        return Router
    if name == "Planner":
        from rulec.outreach.planner import Planner

        return Planner
    if name == "implementation":
        from rulec.matching.matcher import implementation

        return implementation
    raise AttributeError(f"module 'rulec' has no attribute {name!r}")
