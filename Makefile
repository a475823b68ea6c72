# rulec: `make demo` and `make test` work on a fresh machine (Python, gcc, apt).
# Every target is listed in CONTRIBUTING.md; `make help` prints a summary.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RULEC := $(VENV)/bin/rulec
# Exact versions of everything .venv holds (`make lock` refreshes them).
PIP := $(PY) -m pip install -q -c constraints.txt
PYTEST := $(PY) -m pytest -p no:cacheprovider
export RULEC_REQUIRE_EXTENSIONS ?= 1

.PHONY: help setup demo test test-pure coverage coverage-pure soak conformance bench lint typecheck mutate \
	lock lock-upgrade redis browser clean textmate test-spark

help:
	@echo "setup      .venv with pinned dependencies and the Cython matcher"
	@echo "demo       compile, route, explain and plan the examples (demo-out/)"
	@echo "test       the test suite (Cython matcher); test-pure: with RULEC_PURE=1"
	@echo "test-spark pyspark (large, needs Java) and the Spark planning test"
	@echo "coverage   the suite under coverage (subprocesses too), fails below the floor"
	@echo "           coverage-pure: the same on the pure-Python matcher (what CI runs)"
	@echo "lint       ruff check, ruff format --check, no copied blocks; typecheck: mypy"
	@echo "soak       long-running tests (marked soak); bench: every benchmark"
	@echo "mutate     mutation testing (mutmut; MUTATE=module to narrow; not in CI)"
	@echo "lock       refresh constraints.txt (lock-upgrade: newest allowed versions)"
	@echo "clean      remove build outputs (the next setup rebuilds the matcher)"

# The stamp says "dependencies installed"; the extensions (matcher, router decision path) are
# checked on every run, because `make clean` (or a Python upgrade) removes them while the venv
# stays.
# The audience-line scanner (_scan) has no twin: importing it is the check.
EXTENSIONS_LIVE := import rulec, rulec.routing.router as r, rulec.outreach.plan_run as p, \
	rulec.outreach._scan, rulec.outreach.ledger.sqlite_ledger as l; \
	print('rulec matcher:', rulec.implementation, '/ router:', r.implementation, \
	'/ planner:', p.implementation, '/ line scanner: cython', \
	'/ ledger batch:', l.TWIN.implementation)
setup: $(VENV)/.installed
	@if [ "$$RULEC_REQUIRE_EXTENSIONS" = 1 ] && ! env -u RULEC_PURE $(PY) -c \
	  "import rulec, sys, rulec.routing.router as r, rulec.outreach.plan_run as p, \
	  rulec.outreach._scan, rulec.outreach.ledger.sqlite_ledger as l; \
	  sys.exit(rulec.implementation != 'cython' or r.implementation != 'cython' \
	  or p.implementation != 'cython' or l.TWIN.implementation != 'cython')" 2>/dev/null; then \
	  echo "a rulec extension is missing: building them"; \
	  $(PIP) --no-build-isolation -e . && \
	  env -u RULEC_PURE $(PY) -c "$(EXTENSIONS_LIVE)"; \
	fi

$(VENV)/.installed: setup.py pyproject.toml requirements-dev.txt constraints.txt \
		rulec/matching/_matcher.pyx rulec/matching/_rows.pxi rulec/routing/_decide.pyx \
		rulec/outreach/_plan.pyx rulec/outreach/_scan.pyx rulec/outreach/_scan.pxd \
		rulec/outreach/ledger/_sqlite_batch.pyx
	$(PYTHON) -m venv $(VENV)
	$(PIP) pip setuptools wheel Cython
	$(PIP) -r requirements-dev.txt
	$(PIP) --no-build-isolation -e .
	env -u RULEC_PURE $(PY) -c "$(EXTENSIONS_LIVE)"
	touch $@

# The TextMate engine of VS Code (npm), for tests/lsp/test_textmate.py; the test installs it too.
textmate:
	mkdir -p $(VENV)/textmate
	cp tests/lsp/textmate/package.json $(VENV)/textmate/package.json
	cd $(VENV)/textmate && npm install --no-audit --no-fund --no-package-lock

redis:
	@sh scripts/ensure-redis.sh

browser:
	@sh scripts/ensure-browser.sh

demo: setup
	@sh scripts/demo.sh $(RULEC)

test: setup redis browser
	$(PYTEST) tests

# Not part of `make test`: pyspark is ~450 MB and a JVM (docs/distributed.md).
test-spark: setup redis
	$(PIP) -r requirements-spark.txt
	$(PYTEST) tests/distributed/test_spark_plan.py

test-pure: setup redis browser
	RULEC_PURE=1 $(PYTEST) tests

# Line and branch coverage of rulec, CLI subprocesses included ([tool.coverage] in
# pyproject.toml holds the floor). coverage-pure is test-pure under coverage: CI runs it in
# place of test-pure, so the floor is enforced without a third run of the suite.
COVERAGE_RUN = rm -f .coverage .coverage.* && \
	$(PY) -m coverage run -m pytest -p no:cacheprovider tests && \
	$(PY) -m coverage combine -q && \
	$(PY) -m coverage report
coverage: setup redis browser
	$(COVERAGE_RUN)

coverage-pure: export RULEC_PURE := 1
coverage-pure: setup redis browser
	$(COVERAGE_RUN)

# addopts leaves the soak tests out of `make test`; a later -m wins.
soak: setup redis browser
	$(PYTEST) tests -m soak

conformance: setup
	$(PYTHON) ../shared/conformance/run --rulec $(RULEC)
	$(PYTHON) ../shared/conformance/run --rulec $(RULEC) ../shared/conformance/cel
	$(PYTHON) ../shared/conformance/plan-run --rulec $(RULEC)

# benchmarks/pytest.ini collects bench_*.py (the test suite's config does not); then the cost
# curves of compile, load, matcher build and match, 10 to 100,000 groups (fails on a step
# growing faster than n log n; plots into benchmarks/plots/).
bench: setup redis
	$(PYTEST) -c benchmarks/pytest.ini --rootdir=. benchmarks --benchmark-only
	$(PY) -m benchmarks.bench_scaling --memory

# Mutation testing (docs/mutation.md): slow, so not in CI. MUTATE narrows the run, e.g.
# `make mutate MUTATE=rulec.compiler.passes.lint`.
MUTATE ?=
mutate: setup redis
	sh scripts/mutate.sh $(MUTATE)

# check_duplicates: no verbatim copied block longer than today's longest (scripts/).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/check_duplicates.py rulec

typecheck: setup
	$(VENV)/bin/mypy

lock:
	$(PYTHON) scripts/lock.py

lock-upgrade:
	$(PYTHON) scripts/lock.py --upgrade

clean:
	rm -rf build dist *.egg-info rulec/matching/*.c rulec/matching/*.so rulec/routing/*.c \
		rulec/routing/*.so demo-out mutants \
		.coverage .coverage.* htmlcov $(VENV)/.installed
	rm -f rulec/outreach/ledger/*.c rulec/outreach/ledger/*.so
