# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change record one run shares between its file writer and its API writer.

`files.Writer` and `apiwriter.ApiWriter` append to the same `ChangeLog`, so a module
reports `changed`, `changed_files`, `changed_objects` and `diff` from one place, in the
order things were (or in check mode would be) written.
"""
from __future__ import annotations


class ChangeLog:
    """Changed host paths, changed API objects (`Kind/namespace/name`), (re)started or stopped services,
    other changes of the node (`actions`: removed containers, netfilter chains) and redacted diffs."""

    def __init__(self):
        self.paths: list = []
        self.objects: list = []
        self.services: list = []  # systemd units (re)started or stopped, e.g. kubelet.service
        self.actions: list = []   # other changes of the node, one line each ("iptables -t nat -X KUBE-SERVICES")
        self.diffs: list = []
        self.notes: list = []   # what the writers could not know (e.g. no API server in check mode)

    @property
    def changed(self) -> bool:
        return bool(self.paths or self.objects or self.services or self.actions)

    def diff(self, header: str, before: str, after: str) -> None:
        """One Ansible diff entry; callers pass text that is already redacted."""
        self.diffs.append({"before_header": header, "after_header": header, "before": before, "after": after})

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
