#!/usr/bin/python
# -*- coding: utf-8 -*-
# Bench-only module: kubeadm_init's whole payload (every module_utils file the controller packs and
# the node imports), its argument spec and parsing, and nothing done. `make bench` runs it next to
# the no-op rerun to show how much of the rerun is code size (AnsiballZ packing, zipimport
# compiling) and how much is work.
from __future__ import annotations

# exactly the imports of plugins/modules/kubeadm_init.py
from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module
from ansible_collections.kubeboot.cluster.plugins.module_utils.init import run_init  # noqa: F401 pylint: disable=unused-import


def main() -> None:
    module = new_module(options.INIT)
    module.exit_json(changed=False)


if __name__ == "__main__":
    main()
