"""Named records of the router: a decision's choice (R1–R9) and an outcome's R6 data."""

from __future__ import annotations

from typing import NamedTuple


class Choice(NamedTuple):
    """Where a chat goes: the agent index (-1: nobody assigned), the target, the step that
    decided, and the group (index and name) when the step names one. The router builds every
    choice it can make once, when the table is loaded, so deciding allocates nothing."""

    agent: int
    target: str
    step: str
    group: int | None = None
    group_name: str | None = None


class Candidates(NamedTuple):
    """R6 data of one R5 outcome, cached per outcome id: the agents of its robot-off groups
    in declaration order (`members`) and their running level sums (`cum`, `total` the last),
    each such agent's "group" choice in its first robot-off group (`choice`), the first
    robot group (`robot`, or None), the robot-off groups (`humans`), those in conversion
    mode (`conv_groups`), and the candidate groups themselves (`groups`)."""

    members: list[int]
    cum: list[int]
    choice: dict[int, Choice]
    robot: int | None
    humans: list[int]
    conv_groups: list[int]
    total: int
    groups: list[int]
