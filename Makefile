# chorus-chain — the two commands of README.md: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app:app

.PHONY: install run test test-fast lint clean bench bench-dashboards bench-soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e ".[test]"
	touch $@

install: $(VENV)/.installed

# Embedded default: SQLite under instance/, jobs run in-process, e-mails to the local outbox.
run: export CHORUS_ENV := development
run: export DATABASE_URL :=
run: export REDIS_URL :=
run: install
	@echo "chorus-chain: base SQLite embarquée, travaux dans le processus, e-mails dans la boîte d'envoi locale."
	$(BIN)/flask db upgrade
	$(BIN)/flask demo seed
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# The whole suite on both cores. Tests needing PostgreSQL/Redis/a browser are skipped (with the reason)
# when those are absent, except under CI=true where their absence is a failure.
test: install
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest tests/unit -q

clean:
	rm -rf $(VENV) instance/*.db .pytest_cache

# Benchmarks (ratios against a baseline run side by side; never timed tests). See bench/README.md.
bench: install
	$(BIN)/python bench/pdf_render.py

# Dashboards under gunicorn on a seeded PostgreSQL database (chorus_bench), against /healthz.
bench-dashboards: install
	$(BIN)/python bench/dashboards.py $(BENCH_ARGS)

# Durable jobs under random faults (its own PostgreSQL, Redis, SMTP sink and Procfile processes): lost, duplicates,
# p95 recovery. BENCH_ARGS="--minutes 5 --seed 7".
bench-soak: install
	$(BIN)/python bench/jobs_soak.py $(BENCH_ARGS)
