# The README's contract: `make run` starts the local stack, `make test` runs every check, `make bench` the benchmarks.
# Everything installs itself on a fresh clone (a virtualenv in .venv, Node tools in node_modules).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt cli/pyproject.toml | sha256sum | cut -c1-12)
NODE_STAMP := node_modules/.installed-$(shell cat package-lock.json 2>/dev/null | sha256sum | cut -c1-12)
PYTEST_ARGS ?=
# checkov pins packages the app cannot share, so the infrastructure checks get their own virtualenv.
INFRA_VENV ?= .venv-infra
INFRA_PY := $(INFRA_VENV)/bin/python
INFRA_STAMP := $(INFRA_VENV)/.installed-$(shell cat infra/requirements-checks.txt | sha256sum | cut -c1-12)
export AETHERV_INFRA_PYTHON := $(abspath $(INFRA_PY))

.PHONY: install lint typecheck test unit run stop bench clean infra-check system-test system-run

# System packages (Node, Chromium, openssl …): installed when root with apt-get, else a stop naming the command.
system-test:
	@PYTHON=$(PYTHON) tools/system-packages test

system-run:
	@PYTHON=$(PYTHON) tools/system-packages run

$(PY):
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): requirements.txt requirements-dev.txt cli/pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -f node_modules/.installed-* && touch $@

$(INFRA_PY):
	$(PYTHON) -m venv $(INFRA_VENV)

$(INFRA_STAMP): infra/requirements-checks.txt | $(INFRA_PY)
	$(INFRA_PY) -m pip install --disable-pip-version-check -q -r infra/requirements-checks.txt
	rm -f $(INFRA_VENV)/.installed-* && touch $@

VENDOR_STAMP := functions/static/vendor/.stamp

$(VENDOR_STAMP): $(NODE_STAMP) tools/vendor.py
	$(PY) -m tools.vendor
	touch $@

install: $(PY_STAMP) $(NODE_STAMP) $(INFRA_STAMP) $(VENDOR_STAMP)

lint: $(PY_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(PY_STAMP)
	$(PY) -m mypy

test: system-test install lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

unit: $(PY_STAMP)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

run: system-run $(PY_STAMP) $(NODE_STAMP) $(VENDOR_STAMP)
	$(PY) -m tools.run

# Stops the stack `make run` recorded in .devhost/stack.json (under RUN_DATA_DIR when set): by process ids, not names.
stop:
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) -m tools.run stop

bench: $(PY_STAMP) $(NODE_STAMP) $(VENDOR_STAMP)
	$(PY) -m bench

# The provisioning ISOs (agents/dist: LinuxProvisioning.iso, WindowsProvisioning.iso, version, SHA256SUMS).
.PHONY: isos
isos: $(PY_STAMP)
	$(PY) -m tools.isobuild

# Build them, then upload them to the hosts of AETHERV_HOSTS (all, or HOST=name) with the app's WinRM settings.
.PHONY: isos-upload
isos-upload: isos
	$(PY) -m tools.isobuild upload $(if $(HOST),--host $(HOST),--all)

infra-check: $(PY_STAMP) $(INFRA_STAMP)
	$(INFRA_VENV)/bin/checkov -d infra --framework bicep --compact --quiet --skip-download
	$(PY) -m pytest tests/infra $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules .azurite .devhost .mypy_cache .ruff_cache .pytest_cache test-output
