# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options documented once and shared by the kubeadm_* modules."""
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  rootfs:
    description:
      - Prefix for every host path the module reads or writes (C(/etc/kubernetes) becomes
        C(<rootfs>/etc/kubernetes)). Paths written inside files (manifests, kubeconfigs) stay host paths.
      - Lets tests and image builders run unprivileged in a directory tree. With a prefix other than C(/),
        preflight checks of the running machine (ports, CPUs, memory, swap, kernel settings) are not run;
        checks of files in the tree are.
    type: path
    default: /
  cri_socket:
    description:
      - CRI endpoint of the container runtime, as kubeadm's C(--cri-socket).
      - A path without a scheme is prefixed with C(unix://). The dockershim socket is refused
        (dockershim was removed in Kubernetes 1.24).
    type: str
  ignore_preflight_errors:
    description:
      - Preflight checks whose errors become warnings, by kubeadm's names (case-insensitive),
        for example C(NumCPU), C(Port-6443), C(FileContent--proc-sys-net-ipv4-ip_forward); C(all) ignores every check.
    type: list
    elements: str
  config:
    description:
      - Path (on the managed node) to a kubeadm configuration file. A real kubeadm C(kubeadm.k8s.io/v1beta4)
        multi-document file is accepted as is; C(v1beta3) files are converted.
      - Module options override the values of the file (kubeadm refuses the mix; a warning is returned instead).
    type: path
  config_documents:
    description:
      - kubeadm configuration documents given inline instead of (or on top of) O(config) - a list of documents, a
        multi-document YAML string, or a mapping of kind to document (C(InitConfiguration), C(ClusterConfiguration),
        C(JoinConfiguration), C(KubeletConfiguration), C(KubeProxyConfiguration)); C(apiVersion) defaults to the
        kind's newest.
      - Each document is merged over the file's document of the same kind (mappings merge, lists replace), then
        the module options apply, as with O(config). Nothing is written to disk for them, so check mode works on a
        fresh node.
    type: raw
  dry_run:
    description:
      - Like kubeadm's C(--dry-run) - write every file into a new temporary directory (returned as C(dry_run_dir))
        and change nothing on the node or in the cluster. Default false (or the config file's C(dryRun)).
    type: bool
attributes:
  check_mode:
    support: full
    description:
      - Nothing is written and the API is not changed; the result says what would change, files in
        RV(changed_files) and API objects in RV(changed_objects).
      - The API phases read the live cluster (no create, update, patch or delete is sent). When no API
        server answers (a fresh node), they report what they would create from the configuration alone
        and say so in RV(notes); waits (wait-control-plane) are one quick probe.
  diff_mode:
    support: full
    description: Manifests, kubelet files, configs and API objects (as YAML) are shown; private keys, tokens,
      certificate keys and Secret values never are.
"""

    # The patches directory (init, join, upgrade).
    PATCHES = r"""
options:
  patches:
    description:
      - Directory of kubeadm patch files (like C(kubeadm --patches); C(patches.directory) in the config file), named
        C(<target>[suffix][+patchtype].{yaml,json}) - target one of C(etcd), C(kube-apiserver), C(kube-controller-manager),
        C(kube-scheduler), C(kubeletconfiguration), C(corednsdeployment) (and C(kubeproxydaemonset) from 1.37), patch type
        C(strategic) (default), C(merge) or C(json). Files apply in name order; other files are ignored.
      - The patches are applied to the static Pod manifests, this node's C(/var/lib/kubelet/config.yaml) and the CoreDNS
        Deployment, exactly where kubeadm applies them. Every patch is tried before anything is written, so a patch
        that does not apply is one error naming its file.
    type: path
"""
