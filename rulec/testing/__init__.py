"""`rulec test`: discovery, runner, coverage and reporters of the tests written beside rules."""
