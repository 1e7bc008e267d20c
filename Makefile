# The two commands of the README. Everything else is in scripts/.
.PHONY: run test lint fmt bench

run:
	bash scripts/venv.sh
	.venv/bin/privasi init
	.venv/bin/privasi serve

test:
	bash scripts/test.sh

lint:
	bash scripts/venv.sh dev
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy

fmt:
	.venv/bin/ruff format src tests bench
	.venv/bin/ruff check --fix src tests bench
