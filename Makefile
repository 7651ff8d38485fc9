# kubeboot.cluster developer entry points. `make lab` and `make test` are the two set-up commands.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
COLLECTIONS := $(abspath build/collections)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
PYTEST_ARGS ?=

.PHONY: venv link test test-all unit lint sanity lab lab-clean bench clean

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
test: venv link lint
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS) tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test-all: venv link lint
	$(PY) -m pytest -q $(PYTEST_ARGS) tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint: venv link
	$(PY) tests/tools/check_docs.py
	cd $(COLLECTIONS)/ansible_collections/kubeboot/cluster && ansible-lint --profile production --offline -q playbooks roles

sanity: venv link
	cd $(COLLECTIONS)/ansible_collections/kubeboot/cluster && ansible-test sanity --python 3.11 --color no plugins

# Until the podman lab lands: initialise a control plane into ./lab/rootfs on localhost.
lab: venv link
	ansible-playbook -i localhost, -c local -e ansible_python_interpreter=$(abspath $(PY)) \
	  -e kubeboot_lab_root=$(CURDIR)/lab playbooks/lab-local.yml

lab-clean:
	rm -rf lab

bench: venv link
	$(PY) tests/tools/bench.py

clean:
	rm -rf build .pytest_cache
