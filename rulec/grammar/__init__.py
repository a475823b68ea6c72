"""The .rules grammar (Lark) and its cached parser."""
