"""A one-line progress bar on a terminal, for long CLI runs (the library only reports progress)."""

from __future__ import annotations

import sys


class Progress:
    """Callable as a planner's `on_progress(done, total, consumers)`; `close()` ends the line."""

    def __init__(self, err=None):
        self.err, self.shown = err or sys.stderr, False

    def __call__(self, done, total, consumers):
        if total:
            frac = min(1.0, done / total)
            bar = "#" * int(frac * 30)
            self.err.write(f"\rplanning [{bar:<30}] {frac:5.1%} {consumers:,} consumers")
        else:
            self.err.write(f"\rplanning {consumers:,} consumers")
        self.err.flush()
        self.shown = True

    def close(self):
        if self.shown:
            self.err.write("\n")
            self.err.flush()
