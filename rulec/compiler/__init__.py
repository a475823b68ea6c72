"""Compiler: frontends (rules, YAML), model, passes, pipeline."""
