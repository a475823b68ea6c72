"""Routing simulation and replay (`rulec simulate`, `rulec replay`, `rulec metrics`): a shop day
run through the real router, and the metrics M1–M4 over the resulting (or a recorded) log."""
