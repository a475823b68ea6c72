"""Compiler passes, each a function over the model; the order lives in pipeline.py."""
