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

.PHONY: run test bench bench-storage bench-overhead bench-quality bench-quality-tuning \
	bench-quality-checking bench-multifidelity bench-server bench-ray lint \
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

# bench-quality runs both halves of the development suite (hpo/benchmarks/suite.py),
# reusing stored runs whose fingerprint matches; bench-quality-tuning / -checking run one.
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

bench-quality-tuning bench-quality-checking: $(STAMP)
	$(BIN)/python benchmarks/quality.py --half $(subst bench-quality-,,$@)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
