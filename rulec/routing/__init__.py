"""Routing (分流, R1–R10): the router, assignment modes, traces, events and state stores."""
