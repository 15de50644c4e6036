# The two commands a newcomer needs: `make demo` and `make test`. Both run scripts/setup.sh first.
.PHONY: setup demo test lint up down status

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/tollway demo

test: setup lint
	.venv/bin/pytest -q

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports

up: setup
	.venv/bin/tollway up

down:
	.venv/bin/tollway down

status:
	.venv/bin/tollway status
