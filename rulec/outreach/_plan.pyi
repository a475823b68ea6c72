"""Type stub of the Cython planner loop (_plan.pyx): the interface plan_run.Run uses."""

from typing import Any

class Kernel:
    lane_chunks: int  # chunks the fast lane decided
    lane_views: int  # crowd combinations the lane keeps
    def __init__(self, run: Any) -> None: ...
    def chunk(self, chunk: list[Any], name: str) -> None: ...
