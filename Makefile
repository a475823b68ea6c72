# rulec: `make demo` and `make test` work on a fresh machine (Python, gcc, apt).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RULEC := $(VENV)/bin/rulec
export RULEC_REQUIRE_EXTENSIONS ?= 1

.PHONY: setup demo test soak conformance bench redis browser clean textmate

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py pyproject.toml requirements-dev.txt rulec/matching/_matcher.pyx
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-build-isolation -e .
	$(PY) -c "import rulec; print('rulec matcher:', rulec.implementation)"
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
	$(PY) -m pytest tests

soak: setup redis
	$(PY) -m pytest tests -m soak

conformance: setup
	$(PYTHON) ../shared/conformance/run --rulec $(RULEC)
	$(PYTHON) ../shared/conformance/run --rulec $(RULEC) ../shared/conformance/cel
	$(PYTHON) ../shared/conformance/plan-run --rulec $(RULEC)

bench: setup
	$(PY) -m pytest benchmarks --benchmark-only

clean:
	rm -rf build dist *.egg-info rulec/matching/*.c rulec/matching/*.so demo-out
