#!/bin/sh
# `make mutate [MUTATE=PATTERN]`: mutation testing with mutmut ([tool.mutmut] in pyproject.toml).
# PATTERN narrows the run to some mutants, e.g. rulec.compiler.passes.lint (a module) or
# 'rulec.routing.router.*' (mutmut's mutant names); without it every configured module is
# mutated (hours on two cores). RULEC_PURE=1: the pure matcher is what gets mutated, and the
# Cython build is not copied into mutmut's work tree. Results: `.venv/bin/mutmut results`.
set -e
VENV=${VENV:-.venv}
export RULEC_PURE=1
export HYPOTHESIS_PROFILE=mutation  # tests/conftest.py: a failing property test does not shrink
case "$1" in
  "") exec "$VENV/bin/mutmut" run ;;
  *"*"*) exec "$VENV/bin/mutmut" run "$1" ;;
  *) exec "$VENV/bin/mutmut" run "$1.*" ;;
esac
