#!/usr/bin/env python3
"""Every module and plugin documents itself: ansible-doc renders it, EXAMPLES and RETURN parse,
and every argument_spec option is documented with the same type (and vice versa)."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plugins():
    for kind, folder in (("module", "modules"), ("lookup", "lookup")):
        for path in sorted(glob.glob(os.path.join(REPO, "plugins", folder, "*.py"))):
            name = os.path.basename(path)[:-3]
            if name != "__init__":
                yield kind, name


def check(kind: str, name: str) -> list:
    fqcn = f"kubeboot.cluster.{name}"
    proc = subprocess.run(["ansible-doc", "-t", kind, "--json", fqcn], capture_output=True, text=True)
    if proc.returncode != 0:
        return [f"{fqcn}: ansible-doc failed: {proc.stderr.strip()[-500:]}"]
    data = json.loads(proc.stdout)[fqcn]
    errors = []
    doc = data.get("doc") or {}
    for key in ("short_description", "description", "author"):
        if not doc.get(key):
            errors.append(f"{fqcn}: DOCUMENTATION lacks {key}")
    if not (data.get("examples") or "").strip():
        errors.append(f"{fqcn}: EXAMPLES is empty")
    else:
        yaml.safe_load(data["examples"])
    if kind == "module":
        if data.get("return") is None:
            errors.append(f"{fqcn}: RETURN is missing")
        errors += compare_spec(fqcn, name, doc.get("options") or {})
    return errors


def compare_spec(fqcn: str, name: str, documented: dict) -> list:
    sys.path.insert(0, os.path.join(REPO, "build", "collections"))
    module = __import__(f"ansible_collections.kubeboot.cluster.plugins.modules.{name}", fromlist=["x"])
    options = __import__("ansible_collections.kubeboot.cluster.plugins.module_utils.options", fromlist=["x"])
    spec_fn = getattr(module, "argument_spec", None)
    if spec_fn is not None:
        spec = spec_fn()
    elif options.options_of(name):  # the spec generated from the option table
        spec = options.argument_spec(name)
    else:
        return [f"{fqcn}: expose argument_spec() or add its rows to module_utils/options.py"]
    errors = []
    for opt, opt_spec in spec.items():
        if opt not in documented:
            errors.append(f"{fqcn}: option {opt} is not documented")
        elif documented[opt].get("type", "str") != opt_spec.get("type", "str"):
            errors.append(f"{fqcn}: option {opt} type {opt_spec.get('type')} != documented "
                          f"{documented[opt].get('type')}")
        elif documented[opt].get("default") != opt_spec.get("default") and not (
                documented[opt].get("default") in (None, []) and opt_spec.get("default") in (None, [])):
            errors.append(f"{fqcn}: option {opt} default {opt_spec.get('default')!r} != documented "
                          f"{documented[opt].get('default')!r}")
    errors += [f"{fqcn}: documented option {o} not in argument_spec" for o in documented if o not in spec]
    return errors


def main() -> int:
    errors = []
    count = 0
    for kind, name in plugins():
        count += 1
        errors += check(kind, name)
    for line in errors:
        print("DOC ERROR:", line)
    print(f"documentation checked for {count} plugins, {len(errors)} problems")
    return 1 if errors or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
