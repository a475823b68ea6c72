"""Routing tests: helpers live in routing_helpers.py (imported by the test modules)."""
