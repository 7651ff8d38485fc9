# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""reset's opt-in `cleanup_iptables`: remove the packet-filter state kube-proxy and the CNI plugins
made, and nothing else.

kubeadm reset leaves iptables/IPVS to the user; the usual advice (`iptables -F && iptables -X`,
kubespray's reset) flushes every chain, the user's SSH rules and policies too (kubespray#5812 cut
the SSH session it ran in). Here only chains whose names kube-proxy and the CNI plugins use
(`OWNED_CHAIN_PREFIXES`: KUBE-*, CNI-*, FLANNEL-*, cali-*) are flushed and deleted, and the only
rules removed elsewhere are those jumping into such a chain (kube-proxy's hooks in PREROUTING,
OUTPUT, FORWARD, POSTROUTING, INPUT); built-in chains are never flushed and no policy changes. The
state is read with iptables-save and changed with one `iptables-restore --noflush` transaction per
family (atomic per table), and kube-proxy's nftables mode tables (`table ip kube-proxy`) are deleted
with nft. These tools are the kernel's interface here (netlink has no Python binding in the standard
library), so this is a subprocess; `run` is injectable (tests run it inside a network namespace).
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import errors

OWNED_CHAIN_PREFIXES = ("KUBE-", "CNI-", "FLANNEL-", "cali-")
OWNED_NFT_TABLES = ("kube-proxy",)  # kube-proxy --proxy-mode=nftables
FAMILIES = (("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore"))
_TARGET_RE = re.compile(r"(?:^|\s)-(?:j|g|-jump|-goto)\s+(\S+)")


def owned(chain: str) -> bool:
    return chain.startswith(OWNED_CHAIN_PREFIXES)


@dataclass
class Table:
    name: str
    chains: dict = field(default_factory=dict)   # chain -> policy ("-" for user chains)
    rules: list = field(default_factory=list)    # (chain, rule spec after "-A <chain> ")


def parse_save(text: str) -> list:
    """iptables-save output -> [Table]."""
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("*"):
            current = Table(line[1:].strip())
            tables.append(current)
        elif current is None or not line or line.startswith("#") or line == "COMMIT":
            continue
        elif line.startswith(":"):
            name, policy = line[1:].split()[:2]
            current.chains[name] = policy
        elif line.startswith("-A "):
            chain, _sep, spec = line[3:].partition(" ")
            current.rules.append((chain, spec))
    return tables


def plan(tables) -> list:
    """restore commands, table by table: [(table, [lines])] deleting the rules that jump into owned
    chains from other chains, then flushing and deleting the owned chains."""
    out = []
    for table in tables:
        chains = [c for c in table.chains if owned(c) and table.chains[c] == "-"]  # user chains only
        if not chains:
            continue
        lines = []
        for chain, spec in table.rules:
            target = _TARGET_RE.search(spec)
            if not owned(chain) and target and target.group(1) in chains:
                lines.append(f"-D {chain} {spec}")
        lines += [f"-F {chain}" for chain in chains] + [f"-X {chain}" for chain in chains]
        out.append((table.name, lines))
    return out


def restore_script(planned) -> str:
    return "".join(f"*{table}\n" + "".join(line + "\n" for line in lines) + "COMMIT\n" for table, lines in planned)


def cleanup(check_mode: bool, run=subprocess.run, which=shutil.which) -> dict:
    """Remove kube-proxy's and the CNI's chains (and kube-proxy's nftables tables).
    Returns {"changes": ["iptables -t nat -X KUBE-SERVICES", ...], "warnings": [...]}."""
    changes, warnings = [], []
    for save, restore in FAMILIES:
        if not which(save):
            continue
        saved = run([save], capture_output=True, text=True, timeout=60, check=False)
        if saved.returncode != 0:
            warnings.append(f"{save} failed ({saved.stderr.strip()[-200:]}): its rules were not cleaned")
            continue
        planned = plan(parse_save(saved.stdout))
        family = save.replace("-save", "")
        changes += [f"{family} -t {table} {line}" for table, lines in planned for line in lines]
        if planned and not check_mode:
            done = run([restore, "--noflush"], input=restore_script(planned), capture_output=True, text=True,
                       timeout=60, check=False)
            if done.returncode != 0:
                raise NetfilterError(f"{restore} --noflush refused the cleanup ({done.stderr.strip()[-300:]}); "
                                     "nothing of that family was changed")
    if which("nft"):
        changes += _nft_tables(check_mode, run, warnings)
    return {"changes": changes, "warnings": warnings}


def _nft_tables(check_mode: bool, run, warnings: list) -> list:
    listed = run(["nft", "list", "tables"], capture_output=True, text=True, timeout=60, check=False)
    if listed.returncode != 0:
        return []
    changes = []
    for line in listed.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "table" and parts[2] in OWNED_NFT_TABLES:
            command = ["nft", "delete", "table", parts[1], parts[2]]
            changes.append(shlex.join(command))
            if not check_mode:
                done = run(command, capture_output=True, text=True, timeout=60, check=False)
                if done.returncode != 0:
                    warnings.append(f"`{shlex.join(command)}` failed: {done.stderr.strip()[-200:]}")
    return changes


class NetfilterError(errors.KubebootError):
    """iptables-restore refused the planned cleanup."""
