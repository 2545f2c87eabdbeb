# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run install test lint format bench bench-growth migrate seed worker translations clean cluster cluster-down

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) seed-demo

run: seed
	$(BIN)/python -m app.devserver --host $(HOST) --port $(PORT)

worker: install
	$(BIN)/python worker.py

# Two test processes (pytest-xdist; each has a database and a Redis db of its own), handed whole
# files, slowest first (tests/conftest.py). TEST_WORKERS=0 runs everything in one process.
# Bytecode written even where the environment says not to (PYTHONDONTWRITEBYTECODE): the suite
# starts dozens of Python processes (app servers, workers, the CLI), each of which would compile
# the app again.
TEST_WORKERS ?= 2
test: install
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest --basetemp=.pytest_tmp -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		--durations=15 \
		$(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/catalog.py

# Cost of growth (bench/README.md): SCALE=0.25 for a quarter of the 1M-order store.
SCALE ?= 1
bench-growth: install
	$(BIN)/python bench/growth.py --scale $(SCALE)

translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d app/translations
	$(BIN)/pybabel compile -d app/translations -D admin

# The production topology on this machine (deploy/cluster.py): nginx, two app servers, two
# workers, MariaDB primary + replica, Redis + replica + three Sentinels, on ports of its own.
cluster: install
	deploy/cluster up

cluster-down:
	deploy/cluster down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
