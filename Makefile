# The two commands of the README:  make demo  and  make test
.PHONY: demo test lint setup-demo setup-test

demo: setup-demo
	.venv/bin/finsentry demo

test: setup-test lint
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check src tests benchmarks dags consumers
	.venv/bin/mypy

setup-demo:
	infra/setup demo

setup-test:
	infra/setup test
