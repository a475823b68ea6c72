"""Test helpers for tables: a small rules source."""

SMALL = """shop s
timezone Asia/Shanghai
agent a1 level 3
group A {
  agents a1
  product a
}
"""
