"""The compiled table: binary format, integrity checks and the schema of its body."""
