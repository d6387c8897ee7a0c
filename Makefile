# shugu — two commands: `make demo` and `make test`. Each does all set-up on a fresh machine.
SHELL := /bin/bash
# uv on the PATH, else the one pip installed into this Python (`python3 -m uv`); resolved per line.
UV = $$(command -v uv 2>/dev/null || { [ -x "$$HOME/.local/bin/uv" ] && echo "$$HOME/.local/bin/uv"; } || echo python3 -m uv)
DEMO_HOME ?= $(shell mktemp -d)/shugu-demo

.PHONY: demo test setup lint typecheck pytest pytest-fast catalogue clean bench mutation

setup:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv
	$(UV) sync --frozen --python 3.11

demo: setup
	$(UV) run --frozen shugu --home "$(DEMO_HOME)" demo

lint: setup
	$(UV) run --frozen ruff format --check src tests bench
	$(UV) run --frozen ruff check src tests bench

typecheck: setup
	$(UV) run --frozen mypy --strict src

# The whole suite needs the `ray` extra (tests marked `ray` start a real local Ray); `uv run
# --extra ray` installs it from the lock on first use.
pytest: setup
	$(UV) run --frozen --extra ray pytest -m "" --durations=15

pytest-fast: setup
	$(UV) run --frozen pytest

test: lint typecheck pytest

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache

# Extract every N_/_ message from src and merge new ones into the zh_CN catalogue (then translate).
catalogue: setup
	$(UV) run --frozen pybabel extract -k N_ -k _ --no-location --omit-header -o .catalogue.pot src
	$(UV) run --frozen pybabel update -i .catalogue.pot -d src/shugu/locale -D shugu -l zh_CN --width 100 --ignore-obsolete
	rm -f .catalogue.pot

# Benchmarks with baselines measured in the same run; results in bench/results/ (see BENCHMARKS.md).
bench: setup
	$(UV) run --frozen python -m bench.ledger
	$(UV) run --frozen python -m bench.privacy
	$(UV) run --frozen python -m bench.anonymity
	$(UV) run --frozen --extra ray python -m bench.pep

# Mutation testing of ledger/merkle.py and privacy/_validators/ with their focused tests (not part of
# `make test`: ~45 min on 2 cores). Config in pyproject [tool.mutmut]; scores per module printed by
# bench/mutation.py (fails below 97 %); see BENCHMARKS.md "Mutation testing".
mutation: setup
	$(UV) run --frozen mutmut run
	$(UV) run --frozen python -m bench.mutation
