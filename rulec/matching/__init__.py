"""R5 matching: the front door, the Cython matcher, its pure-Python twin and the reference."""
