# The two commands of the README: `make run` and `make test`.
# Everything else (the virtual environment, translations) is made on the way.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# Test processes (pytest-xdist): one per core; TEST_WORKERS=0 runs the tests in this process.
TEST_WORKERS ?= auto
PO := $(wildcard app/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

# axe-core, for the accessibility tests in a real browser (package.json, package-lock.json).
AXE := node_modules/axe-core/axe.min.js

.PHONY: run test lint format translations-extract bench screenshots clean

# Re-install whenever the project's dependencies change, or a package appears
# (an editable install maps the top-level packages it found when installed).
$(BIN)/hotline: pyproject.toml $(wildcard */__init__.py)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

app/translations/%/LC_MESSAGES/messages.mo: app/translations/%/LC_MESSAGES/messages.po $(BIN)/hotline
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ --statistics

# Without npm the accessibility tests are skipped (they fail when HOTLINE_REQUIRE_BROWSER=1).
$(AXE): package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "make: no npm here, so no axe-core: the accessibility tests will be skipped"; fi

run: $(BIN)/hotline $(MO)
	$(BIN)/hotline setup --base-url http://$(HOST):$(PORT)
	# The worker (background jobs: alerts, e-mail, SMS) runs beside the server and ends with it.
	$(BIN)/hotline worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/hotline run --host $(HOST) --port $(PORT)

test: $(BIN)/hotline $(MO) $(AXE)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not serial" $(PYTEST_ARGS)
	# Then the tests that time the app under a fault, alone on the machine (5: none chosen).
	$(BIN)/python -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The benchmarks (bench/, README "Benchmarks"): quick by default, a few minutes;
# make bench BENCH_ARGS="--full" for the issue's sizes, or e.g. BENCH_ARGS="calls --db sqlite".
bench: $(BIN)/hotline $(MO)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The README's gallery: a demo helpline photographed at a phone's and a desk's width.
screenshots: $(BIN)/hotline $(MO)
	$(BIN)/python docs/tools/screenshots.py

format: $(BIN)/hotline
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# After adding or changing a translated string: refresh the catalogs, translate
# the new entries in app/translations/*/LC_MESSAGES/messages.po, then make test.
translations-extract: $(BIN)/hotline
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location -o app/translations/messages.pot app board
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --width 100

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache node_modules
