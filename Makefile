# kubeboot.cluster developer entry points. `make lab` and `make test` are the two set-up commands.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
COLLECTIONS := $(abspath build/collections)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
PYTEST_ARGS ?=
# Two pytest workers (pytest-xdist), a test file each: most tests wait on etcd, TLS and subprocesses, so
# two run in about half the time on two cores. PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

.PHONY: test-node venv link test test-slow test-all unit lint sanity lab lab-show lab-check lab-scenarios lab-add lab-down lab-local lab-clean molecule bench clean

$(VENV)/.installed: requirements.txt requirements-test.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

venv: $(VENV)/.installed

link:
	@mkdir -p $(COLLECTIONS)/ansible_collections/kubeboot
	@ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/kubeboot/cluster

# Fast suite (CI): lint + docs + every test not marked slow. Exit 5 (no tests) fails.
test: venv link lint sanity test-node
	$(PY) -m pytest -q -m "not slow" $(XDIST) $(PYTEST_ARGS) tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The suites marked slow (a real 3-member etcd join, token expiry through the tokencleaner); CI runs them too.
test-slow: venv link
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS) tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no slow tests: failing"; exit 1; fi; exit $$rc

test-all: venv link lint sanity test-node
	$(PY) -m pytest -q $(XDIST) $(PYTEST_ARGS) tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# module_utils under the library versions of a Debian 12 node (requirements-node.txt).
NODE_VENV ?= .venv-node
$(NODE_VENV)/.installed: requirements-node.txt
	test -x $(NODE_VENV)/bin/python || python3 -m venv $(NODE_VENV)
	$(NODE_VENV)/bin/python -m pip install -q -r requirements-node.txt
	touch $@

test-node: $(NODE_VENV)/.installed link
	$(NODE_VENV)/bin/python -m pytest -q -m "not slow" $(PYTEST_ARGS) tests/unit/plugins; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint: venv link
	$(PY) tests/tools/check_docs.py
	cd $(COLLECTIONS)/ansible_collections/kubeboot/cluster && ansible-lint --profile production --offline -q playbooks roles

# ansible-test needs a real ansible_collections/<ns>/<name> tree under git, and fetches pip's
# get-pip.py from a host these machines cannot reach: give it a stand-in that uses ensurepip.
SANITY_TREE := build/sanity/ansible_collections/kubeboot/cluster
sanity: venv
	rm -rf build/sanity && mkdir -p $(SANITY_TREE)
	git ls-files -co --exclude-standard plugins meta roles playbooks galaxy.yml README.md COPYING \
	  | tar -cf - -T - | tar -C $(SANITY_TREE) -xf -
	cd $(SANITY_TREE) && git init -q && git add -A
	mkdir -p $(HOME)/.ansible/test/cache
	for v in 24_2 25_0 25_1 25_2 25_3; do cp tests/tools/get_pip_offline.py $(HOME)/.ansible/test/cache/get_pip_$$v.py; done
	cd $(SANITY_TREE) && ansible-test sanity --python $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])') --color no

# The lab: installs what it needs from Debian (as root), builds the node image (debootstrap, cached),
# starts podman nodes cp1/w1/w2, runs playbooks/site.yml over them (with the lab's kubelet stand-in
# package, extensions/lab/) and prints the cluster with the time of each step. `make lab-down`
# removes nodes and network; `make lab-check` verifies a running lab from outside (CI).
LAB := python3 extensions/lab/lab.py
lab:
	@command -v python3 >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq python3; } \
	  || { echo "make lab: python3 is missing (run make lab as root to have it installed)"; exit 1; }
	$(LAB) host
	$(MAKE) --no-print-directory venv link
	$(PY) extensions/lab/lab.py up

lab-show: venv link
	$(PY) extensions/lab/lab.py show

lab-check: venv link
	$(PY) extensions/lab/lab.py check $(LAB_CHECK_ARGS)

lab-scenarios: venv link
	$(PY) extensions/lab/lab.py scenarios $(SCENARIOS)

lab-add: venv link
	$(PY) extensions/lab/lab.py add $(NODE)

lab-down:
	$(LAB) down

# The lab as a molecule scenario (extensions/molecule/default): create, converge, idempotence, verify,
# destroy. Tools from requirements-lab.txt (not needed by CI).
molecule: venv link
	$(PY) -m pip install -q -r requirements-lab.txt
	$(LAB) host
	$(LAB) down
	$(PY) extensions/lab/lab.py image
	$(PY) extensions/lab/lab.py packages
	eval "$$($(PY) extensions/lab/lab.py env)" && molecule test -s default

# Without podman: initialise a control plane into ./lab/rootfs on localhost.
lab-local: venv link
	ansible-playbook -i localhost, -c local -e ansible_python_interpreter=$(abspath $(PY)) \
	  -e kubeboot_lab_root=$(CURDIR)/lab playbooks/lab_local.yml

lab-clean: lab-down
	rm -rf lab

# Not part of `make test`: the collection timed against the alternatives, paired, in one run
# (bench/results/<date>.json + .md, docs/performance.md). Bench-only tools: requirements-bench.txt.
BENCH_ARGS ?=
$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt
	$(PY) -m pip install -q -r requirements-bench.txt
	touch $@

bench: venv link $(VENV)/.bench-installed
	$(PY) tests/tools/bench.py $(BENCH_ARGS)

clean:
	rm -rf build .pytest_cache
