# Two commands for a newcomer (see README):
#   make reproduce   regenerate every table and figure (PROFILE=cpu by default)
#   make test        unit tests + the notebooks under the smoke profile (nbval)
#   make lab         JupyterLab on the project's kernel, to work with the notebooks interactively
#   make plan        what `make reproduce` would compute, and how long it should take
# Both create/refresh the virtual environment first; it is reused while the dependency files
# are unchanged (the stamp file name carries their hash).

PROFILE ?= cpu
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEPS_HASH := $(shell cat pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(DEPS_HASH)

# Data root: HASHLIB_DATA if set; else the shared datasets folder beside the checkout where it
# exists (these machines); else ./data (put cifar10.npz there, or let torchvision download it).
HASHLIB_DATA ?= $(if $(wildcard ../shared/datasets/cifar10.npz),$(abspath ../shared/datasets),$(CURDIR)/data)
export HASHLIB_DATA

# This checkout's package first on the path, for the notebooks' kernels and test subprocesses too:
# the virtual environment may be shared between checkouts (.ci/run keeps it outside the clone), and
# its editable install points at whichever checkout built it.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

# glibc malloc settings for every process started from here (kernels of `make lab`, `make test`):
# the values of hashlib_core.reproduce.ALLOCATOR_ENV, which says why (tests/test_reproduce.py checks
# that the two agree); bit-identical weights, no page-fault storm (benches/bench_allocator.py).
export MALLOC_MMAP_THRESHOLD_ ?= 33554432
export MALLOC_TRIM_THRESHOLD_ ?= 1073741824
export MALLOC_TOP_PAD_ ?= 67108864

# `make lab`: where JupyterLab listens (LAB_PORT=0 picks a free port; the URL is printed either way)
LAB_IP ?= 127.0.0.1
LAB_PORT ?= 8888

.PHONY: install data test reproduce plan lab check-params bench clean-cache

install: $(STAMP)

# CIFAR-10 from $(HASHLIB_DATA), or downloaded there by torchvision where there is internet.
data: $(STAMP)
	$(PY) -m hashlib_core.data.check

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(PY) -m pip install --quiet -e ".[dev,notebooks]"
	@rm -f $(VENV)/.installed-*
	@touch $@

test: data
	HASHLIB_PROFILE=smoke HASHLIB_PROGRESS=text $(PY) -m pytest tests --nbval-lax --nbval-current-env notebooks -p no:cacheprovider

reproduce: data
	$(PY) -m hashlib_core.reproduce --profile $(PROFILE)

# What `make reproduce` would do: runs cached / to compute per notebook, and a time estimate.
plan: $(STAMP)
	$(PY) -m hashlib_core.reproduce --profile $(PROFILE) --plan

# The kernel is the virtual environment's own python3 (ipykernel's native kernel), which inherits
# HASHLIB_DATA from here; notebooks default to the cpu profile (HASHLIB_PROFILE=smoke for a quick try).
lab: data
	@echo "JupyterLab on $(LAB_IP), root $(CURDIR), HASHLIB_DATA=$(HASHLIB_DATA)"
	@echo "open the http://$(LAB_IP):...?token=... URL printed below; stop with Ctrl-C"
	$(PY) -m jupyter lab --ServerApp.ip=$(LAB_IP) --ServerApp.port=$(LAB_PORT) \
		--ServerApp.root_dir=$(CURDIR) --FileContentsManager.preferred_dir=notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root)

check-params: $(STAMP)
	for p in smoke cpu paper; do $(PY) -m hashlib_core.reproduce --profile $$p --check || exit 1; done

bench: $(STAMP)
	for b in benches/bench_*.py; do $(PY) $$b || exit 1; done

clean-cache:
	rm -rf .cache/hashlib
