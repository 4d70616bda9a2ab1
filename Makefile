# Developer shortcuts; CI runs .ci/run, which calls the README's test command.
PY := .venv/bin/python

.PHONY: lint test golden docs bench

lint:
	.venv/bin/ruff check migrator tests benchmarks
	.venv/bin/mypy
	.venv/bin/lint-imports

test:
	$(PY) -m pytest

golden:
	MIGRATOR_UPDATE_GOLDEN=1 $(PY) -m pytest
	git status --short tests/golden

docs:
	$(PY) -m migrator.cli.docs

bench:
	$(PY) benchmarks/evaluate.py
	$(PY) benchmarks/plan.py
	$(PY) benchmarks/read_pods.py
	$(PY) benchmarks/audit.py
	$(PY) benchmarks/end_to_end.py --pods 25000 --namespaces 2000
