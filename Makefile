# The two README commands (make run, make test) and the benchmark, from a fresh machine.
# Each target creates .venv if missing and installs the project with constraints.txt;
# a stamp file makes the install step a no-op when nothing changed.

PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
EXTRAS ?= all
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
PYTEST_ARGS ?=

.PHONY: run test bench bench-storage bench-overhead bench-quality bench-quality-synthetic \
	bench-quality-sklearn bench-quality-lcbench bench-multifidelity bench-server bench-ray lint \
	typecheck install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): pyproject.toml setup.py constraints.txt | $(BIN)/python
	$(PIP) install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

install: $(STAMP)

# The dashboard with a live demo comparison (hpo demo: the server on sqlite:///hpo-demo.db,
# several searchers on svm_wine), until Ctrl-C; a second run resumes or reuses it.
PORT ?= 8000
run: $(STAMP)
	$(BIN)/hpo demo --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=15 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check hpo adapters server tests examples benchmarks
	$(BIN)/ruff format --check hpo adapters server tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# Areas run one after the other (each spreads its problems over every core); the
# quality areas together take about 80 minutes on 2 cores.
bench: bench-storage bench-overhead bench-quality bench-multifidelity

bench-storage: $(STAMP)
	$(BIN)/python benchmarks/storage_throughput.py

bench-overhead: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

bench-quality: $(STAMP)
	$(BIN)/python benchmarks/quality.py

bench-multifidelity: $(STAMP)
	$(BIN)/python benchmarks/multifidelity.py

# the hpo server against Optuna's GrpcStorageProxy and RDB storage (about 6 minutes)
bench-server: $(STAMP)
	$(BIN)/python benchmarks/server.py

# RayExecutor against Ray Tune's Tuner: overhead, packing, a 5,000-trial study (~10 minutes)
bench-ray: $(STAMP)
	$(BIN)/python benchmarks/ray.py

bench-quality-synthetic bench-quality-sklearn bench-quality-lcbench: $(STAMP)
	$(BIN)/python benchmarks/quality.py --area $(subst bench-quality-,,$@)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
