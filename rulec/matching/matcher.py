"""R5 matcher front door: picks the Cython matcher when built (RULEC_PURE=1 forces pure Python).

`build_matcher(body, impl=None)` returns a matcher for a table body (impl: "cython", "python"
or None for the live one). Every matcher has:
- `match(chat) -> [group names]` (R5 candidates, declaration order), `match_many(chats)`,
  `match_indices(chat) -> [group indices]`, `match_outcome(chat) -> outcome id` (an index
  of `outcomes()`, shared with match_columns);
- `crowds_of(attrs, labels=())`: defined crowds that hold, in body order, then the labels;
  `crowds_of_trusted(attrs, labels)` is the same without the E840 type checks (callers
  that already checked: attrs a dict or None, labels strings);
- `intents_of(message, attrs, label=None)`: defined intents that hold, then the label;
- the columnar batch entry point, for callers that keep chats in arrays:

      codes = m.code(dim, value)      # int code of a tree value (0: none / not in the table)
      out = m.match_columns(n, product=P, order=O, intent=I, crowd=C, columns=COLS, out=None)
      names = m.outcomes()[out[i]]    # tuple of candidate group names of chat i

  P, O, I, C are int32 buffers (array("i"), numpy int32...) of n codes; None means "no value"
  for every chat (C holds one outside crowd label per chat, I the intent label). COLS maps an
  attribute name to a column: a float64 buffer (NaN = missing), an int64 buffer (no missing
  values) or `(codes, vocabulary)` with int32 codes into a list of values (-1, or any
  negative code, = missing; a vocabulary may hold strings, bools or lists). The column named
  `message` is the chat's message (intents only); a column no predicate reads is ignored
  (not checked). `out` is an int32 buffer of n outcome ids (allocated when None);
  ids index `m.outcomes()` and are stable for the matcher's lifetime. Bad columns raise
  InputError E841; bad chat fields raise InputError E840.

Both matchers cache predicate results by value class (see matcher_py); the caches are
bounded (string memos and class tables are cleared when full). A call that reaches the
Cython matcher while it is inside a cache miss (another thread, during the miss's Python
callback) is answered by the pure-Python plan, so matchers may be shared between threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rulec.common.gc_pause import gc_paused
from rulec.common.twin import load_twin
from rulec.matching.pure import PyMatcher

if TYPE_CHECKING:
    from rulec.matching._matcher import CMatcher

TWIN = load_twin("rulec.matching._matcher", "rulec.matching.pure", "matcher")
_matcher = TWIN.extension
extension_error = TWIN.error
implementation = TWIN.implementation


def build_matcher(body: dict[str, Any], impl: str | None = None) -> PyMatcher | CMatcher:
    """A matcher for a (schema-checked) table body."""
    live = TWIN.module(impl)
    # The build allocates many containers while the whole table body is live: each
    # collection would re-scan the body (2x the build time at 30,000 groups). It makes no
    # reference cycles, so the collector waits until it is done.
    with gc_paused():
        py = PyMatcher(body)
        if live is TWIN.pure:
            return py
        fast: CMatcher = live.CMatcher(py)
        return fast
