# The two commands of the README:  make demo  and  make test
.PHONY: demo test lint audit setup-demo setup-test

demo: setup-demo
	.venv/bin/finsentry demo

test: setup-test lint
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check src tests benchmarks dags consumers
	.venv/bin/mypy

# Security audit (docs/security.md): bandit over src/ (medium and high findings fail), then the
# installed dependencies against known vulnerabilities (pip-audit; needs its vulnerability service)
audit: setup-test
	.venv/bin/bandit -q -r src -c pyproject.toml -ll -ii
	.venv/bin/pip-audit --strict --progress-spinner off

setup-demo:
	infra/setup demo

setup-test:
	infra/setup test
