# Build tooling for loyalty-ledger.
#
#   make run    set everything up and serve gRPC (embedded PostgreSQL when DATABASE_URL is unset)
#   make test   set everything up and run the whole suite
#   make wheel  build dist/loyalty_ledger-*.whl (with the generated protobuf package)
#   make constraints  re-pin constraints.txt: what installing that wheel installs today
#   make image  build the container image (dist/image/loyalty-ledger-*.oci.tar) with no registry
#
# Every set-up step is guarded by a stamp file kept inside the directory it describes, so
# repeated runs are fast and deleting .venv/ or gen/ by hand simply redoes that step.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
PYTEST_ARGS ?=
RUN_ARGS ?=
BENCH_ARGS ?=
# Set to 1 to treat pytest's "no tests collected" (exit 5) as success; .ci/run does.
ALLOW_NO_TESTS ?=

VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.stamp-installed
CHROMIUM ?= /usr/bin/chromium
BROWSER_STAMP := $(VENV)/.stamp-chromium

PROTO_DIR := proto
PROTO_PKG_DIR := $(PROTO_DIR)/loyalty/v1
PROTOS := $(wildcard $(PROTO_PKG_DIR)/*.proto)
# Google's API definitions ours import (google/longrunning/operations.proto...), vendored as
# their sources for protoc and buf; no code is generated from them: their Python modules come
# from googleapis-common-protos, a dependency.
THIRD_PARTY_PROTO_DIR := third_party/googleapis
THIRD_PARTY_PROTOS := $(shell find $(THIRD_PARTY_PROTO_DIR) -name '*.proto')
GEN := gen
GEN_STAMP := $(GEN)/.stamp-generated

DIST := dist
CONSTRAINTS := constraints.txt
# The venv `make constraints` installs the wheel into: nothing else in it, so its freeze is
# exactly what an image installs.
FREEZE_VENV := $(DIST)/freeze-venv

MYPY_TARGETS := $(wildcard ledger service tests)
# Until tests/ exists pytest warns that testpaths matched nothing (an error under -W error).
PYTEST_NO_TESTS_DIR := $(if $(wildcard tests),,-W ignore::pytest.PytestConfigWarning)

.DEFAULT_GOAL := help
.PHONY: help venv gen lint fmt test run bench wheel constraints image image-tools clean distclean browser

help:
	@echo "make run | test | lint | fmt | bench | venv | gen | browser | wheel | constraints | image | clean | distclean"

# --- virtualenv -----------------------------------------------------------------------------
venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 required, got " + sys.version)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	@# setuptools' editable finder maps only the top-level packages that existed at install
	@# time and gen/loyalty only if it was generated before. A plain .pth with the repo root
	@# and gen/ makes ledger, service (created later), benchmarks and loyalty importable
	@# whatever the order of install and `make gen`, without reinstalling.
	site="$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"; \
	  printf '%s\n' "$(CURDIR)" "$(CURDIR)/$(GEN)" > "$$site/loyalty_ledger_dev.pth"
	touch $@

# --- generated protobuf / gRPC code ---------------------------------------------------------
gen: $(GEN_STAMP)

# The directory is a prerequisite too, so adding or removing a .proto regenerates.
$(GEN_STAMP): $(PROTOS) $(PROTO_PKG_DIR) $(THIRD_PARTY_PROTOS) $(VENV_STAMP)
	@test -n "$(PROTOS)" || { echo "no .proto files in $(PROTO_PKG_DIR)" >&2; exit 1; }
	rm -rf $(GEN).tmp
	mkdir -p $(GEN).tmp
	$(BIN)/python -m grpc_tools.protoc -I$(PROTO_DIR) -I$(THIRD_PARTY_PROTO_DIR) \
	  --plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy \
	  --plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc \
	  --python_out=$(GEN).tmp --grpc_python_out=$(GEN).tmp \
	  --mypy_out=$(GEN).tmp --mypy_grpc_out=$(GEN).tmp \
	  $(PROTOS)
	find $(GEN).tmp -mindepth 1 -type d -exec touch {}/__init__.py \;
	touch $(GEN).tmp/loyalty/py.typed
	rm -rf $(GEN)
	mv $(GEN).tmp $(GEN)
	touch $@

# --- checks ---------------------------------------------------------------------------------
lint: $(VENV_STAMP) $(GEN_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(MYPY_TARGETS)
	$(BIN)/lint-imports
	$(BIN)/buf lint

fmt: $(VENV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(VENV_STAMP) $(GEN_STAMP) $(BROWSER_STAMP)
	rc=0; $(BIN)/pytest $(PYTEST_NO_TESTS_DIR) $(PYTEST_ARGS) || rc=$$?; \
	if [ "$$rc" = 5 ] && [ "$(ALLOW_NO_TESTS)" = 1 ]; then \
	  echo "pytest collected no tests (exit 5); accepted because ALLOW_NO_TESTS=1"; rc=0; \
	fi; \
	exit $$rc

# --- a headless browser for the tests ----------------------------------------------------
# The audit report's HTML page is opened in a real headless Chromium by its test
# (tests/integration/test_audit_html.py). Debian's package is installed with apt-get when it
# is missing and this runs as root with apt-get at hand; otherwise the step says what to
# install, makes no stamp (so the next run tries again) and the test fails naming the browser.
# The stamp lives in .venv/, so `make clean` checks again.
browser: $(BROWSER_STAMP)

$(BROWSER_STAMP): $(VENV_STAMP)
	if [ -x "$(CHROMIUM)" ]; then \
	  touch $@; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  touch $@; \
	else \
	  echo "no $(CHROMIUM), and no root with apt-get to install it: install Debian's chromium" \
	    "package (the HTML report's browser test needs it)" >&2; \
	fi

# --- packaging ------------------------------------------------------------------------------
# The wheel needs gen/ (the `loyalty` package is found there at build time). build/ is removed
# first: setuptools reuses it, so a module deleted from the tree would otherwise still ship.
wheel: $(VENV_STAMP) $(GEN_STAMP)
	rm -rf build $(DIST)/*.whl
	$(BIN)/python -m pip wheel . --no-deps --quiet -w $(DIST)
	rm -rf build
	@ls -l $(DIST)/*.whl

# pip freeze of a fresh venv holding only the wheel and what it pulls from PyPI now, for
# `pip install -c constraints.txt loyalty_ledger-*.whl` in an image. The pins hold for this
# Python ($(PYTHON)); tests/packaging checks they satisfy [project.dependencies].
constraints: wheel
	rm -rf $(FREEZE_VENV)
	$(PYTHON) -m venv $(FREEZE_VENV)
	$(FREEZE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FREEZE_VENV)/bin/python -m pip install --quiet $(DIST)/loyalty_ledger-*.whl
	{ \
	  echo "# What the loyalty-ledger wheel installs: pip freeze of a fresh venv holding only it."; \
	  echo "# Regenerate with \`make constraints\`; use as \`pip install -c $(CONSTRAINTS) <wheel>\`."; \
	  echo "# Python $$($(FREEZE_VENV)/bin/python -c 'import platform; print(platform.python_version())')"; \
	  $(FREEZE_VENV)/bin/python -m pip freeze --exclude loyalty-ledger; \
	} > $(CONSTRAINTS).tmp
	mv $(CONSTRAINTS).tmp $(CONSTRAINTS)
	rm -rf $(FREEZE_VENV)

# The image: Debian's Python and libraries only (mmdebstrap), the wheel and constraints.txt in
# a venv, assembled by buildah into an OCI archive (deploy/image/build.sh; README "Container
# image"). Both tools come from Debian's packages, installed here when missing.
IMAGE_DIR := $(DIST)/image

image: wheel image-tools
	bash deploy/image/build.sh "$$(ls $(DIST)/loyalty_ledger-*.whl)" $(CONSTRAINTS) $(BIN)/python $(IMAGE_DIR)

image-tools:
	@if ! command -v mmdebstrap >/dev/null || ! command -v buildah >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	      buildah mmdebstrap >/dev/null; \
	  else \
	    echo "make image needs buildah and mmdebstrap (Debian packages); install them as root" >&2; \
	    exit 1; \
	  fi; \
	fi

# --- running --------------------------------------------------------------------------------
# Local development: no TLS and no callers unless the environment says otherwise (README
# "Authentication" for the real thing). The embedded default logs in as the restricted
# service login by itself. A DATABASE_URL given here is most often a superuser's (the one
# `make test` takes), which `serve` refuses: make run allows it, saying so, unless
# LEDGER_ALLOW_PRIVILEGED_LOGIN is set either way (README "Database roles").
run: $(VENV_STAMP) $(GEN_STAMP)
	@if [ -n "$${DATABASE_URL:-}" ] && [ -z "$${LEDGER_ALLOW_PRIVILEGED_LOGIN:-}" ]; then \
	  echo "make run: DATABASE_URL is set, so LEDGER_ALLOW_PRIVILEGED_LOGIN=true (development):" \
	    "a superuser login serves too, with a warning; set it to false to refuse one" >&2; \
	fi
	LEDGER_AUTH="$${LEDGER_AUTH:-none}" LEDGER_PLAINTEXT="$${LEDGER_PLAINTEXT:-1}" \
	  LEDGER_ALLOW_PRIVILEGED_LOGIN="$${LEDGER_ALLOW_PRIVILEGED_LOGIN:-$${DATABASE_URL:+true}}" \
	  $(BIN)/loyalty-ledger serve $(RUN_ARGS)

bench: $(VENV_STAMP) $(GEN_STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# --- cleaning -------------------------------------------------------------------------------
# clean keeps the embedded database (.data/); distclean removes it too.
clean:
	rm -rf $(VENV) $(GEN) $(GEN).tmp build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +

distclean: clean
	@# Stop the embedded server first (fast shutdown of its postmaster), then drop its data.
	if [ -f .data/pg/postmaster.pid ]; then \
	  pid="$$(head -n 1 .data/pg/postmaster.pid)"; \
	  if [ "$$(ps -p "$$pid" -o comm= 2>/dev/null)" = postgres ] && kill -INT "$$pid"; then \
	    for _ in $$(seq 50); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.2; done; \
	  fi; \
	fi
	rm -rf .data
