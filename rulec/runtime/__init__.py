"""Runtime: table loading, matcher, router, planner and state stores (never imports the compiler)."""
