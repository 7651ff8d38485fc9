# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plumbing shared by the module shells (the only module_utils file that handles an AnsibleModule)."""
from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import fail_if_missing
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import KubebootError


def new_module(name: str, **kwargs) -> AnsibleModule:
    """The AnsibleModule of a kubeboot module: its argument spec from the option table, check mode."""
    return AnsibleModule(argument_spec=options.argument_spec(name), supports_check_mode=True, **kwargs)


NO_LOG_PLACEHOLDER = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def run_module(module, run) -> None:
    """Shared body of the modules: call run(params, check_mode), turn KubebootError into
    fail_json, diff only with --diff, warnings through module.warn, then exit_json.

    A result may name, under `_returned_secrets`, no_log input values it returns on purpose (a
    given join token in kubeadm_init's `join` facts): Ansible would replace them with its
    placeholder, so they are taken off its mask list, and the invocation it reports is masked here."""
    fail_if_missing(module)
    try:
        result = run(dict(module.params), check_mode=module.check_mode)
    except KubebootError as exc:
        module.fail_json(msg=str(exc))
    returned = [value for value in result.pop("_returned_secrets", []) if value]
    if returned:
        secret = {key for key, spec in module.argument_spec.items() if spec.get("no_log")}
        result["invocation"] = {"module_args": {key: NO_LOG_PLACEHOLDER if key in secret and value else value
                                                for key, value in module.params.items()}}
        for value in returned:
            module.no_log_values.discard(value)
    diffs = result.pop("diff", [])
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = diffs
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)
