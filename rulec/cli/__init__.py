"""Command line: one module per command, each with run(args, out, err) -> int."""
