# chorus-chain — the two commands of README.md: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := app:app

.PHONY: install run demo-reset test test-fast lint clean bench bench-dashboards bench-soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e ".[test]"
	touch $@

install: $(VENV)/.installed

# The development settings of this clone, read by every `flask …` command run from it (python-dotenv), so that the
# README's commands work as written after `make run`. Never committed: production sets its environment itself and
# keeps refusing to start without SECRET_KEY.
.env:
	@printf '%s\n' "# Écrit par make pour ce clone (développement) : les commandes flask du README le lisent." \
		"# Jamais en production, où CHORUS_ENV, SECRET_KEY, DATABASE_URL… viennent de l'environnement." \
		"FLASK_APP=app:app" "CHORUS_ENV=development" > $@

# Embedded default: SQLite under instance/, jobs run in-process, e-mails to the local outbox. `make run PORT=5001`.
run: export CHORUS_ENV := development
run: export DATABASE_URL :=
run: export REDIS_URL :=
run: export BASE_URL ?= http://127.0.0.1:$(PORT)
run: install .env
	@echo "chorus-chain: base SQLite embarquée, travaux dans le processus, e-mails dans la boîte d'envoi locale."
	$(BIN)/flask db upgrade
	$(BIN)/flask demo seed
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

# Start the demo again from scratch (the embedded SQLite base only): its dates follow the day it is seeded.
demo-reset: export CHORUS_ENV := development
demo-reset: export DATABASE_URL :=
demo-reset: export REDIS_URL :=
demo-reset: install .env
	rm -f instance/chorus.db
	$(BIN)/flask db upgrade
	$(BIN)/flask demo seed

# The whole suite on both cores. Tests needing PostgreSQL/Redis/a browser are skipped (with the reason)
# when those are absent, except under CI=true where their absence is a failure.
test: install
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest tests/unit -q

clean:
	rm -rf $(VENV) instance/*.db .pytest_cache .env

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
