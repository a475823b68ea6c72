"""State stores for the router and ledgers for the planner, behind one URL scheme."""
