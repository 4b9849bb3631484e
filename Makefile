# Two commands on a fresh machine: `make demo` and `make test`. Both create or reuse .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench bench-targeting clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/riskstream demo $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/riskstream bench --report bench/report.json

# riskstream against the reference baselines on the simulator's realistic worlds (bench/targeting.json)
# and its ablations (bench/targeting_ablations.json); JOBS replays at once
JOBS ?= 2
bench-targeting: $(STAMP)
	# the ablations run even when a margin is missed; the exit status still says so
	$(BIN)/python -m bench.targeting --jobs $(JOBS); met=$$?; \
	$(BIN)/python -m bench.targeting --ablations-only --seed 1 --scale 0.3 --jobs $(JOBS) && exit $$met

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
