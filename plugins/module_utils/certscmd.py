# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm certs`: check-expiration, renew, certificate-key and generate-csr, as the body of the
kubeadm_certs module (and of the renewal timer's script, which runs it without Ansible).

The configuration is kubeadm's: `config` if given, else the cluster's kube-system/kubeadm-config
read with `kubeconfig` (one short try: certificates are often renewed because the cluster no
longer answers), else kubeadm's defaults. Renewal is `renewal.renew`; generate-csr takes every
name from `pki.CERTS` and `kubeconfig.KUBECONFIGS` and writes through the run's `files.Writer`,
so check mode and --diff cover both.
"""
from __future__ import annotations

import posixpath

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    config, durations, errors, kubeadmconfig, kubeconfig, pki, pkiutil, renewal, tokencmd, tokens)
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, RootfsLock, Writer

PROBE_TIMEOUT = 5.0
FALLBACK_NOTE = "Error reading configuration from the Cluster. Falling back to default configuration"


# --- configuration -------------------------------------------------------------------------------

def cluster_config(params: dict, fs, warnings: list) -> tuple:
    """(InitConfig, source) as kubeadm's getInternalCfg: the config file, the cluster, or defaults."""
    cert_dir = params.get("cert_dir")
    if params.get("config"):
        docs, _moved = kubeadmconfig.load_documents(params["config"], "init", warnings)
        return config.cluster_init_config(docs.get("ClusterConfiguration", {}), warnings, cert_dir), "config"
    doc = _from_cluster(fs, params.get("kubeconfig") or tokencmd.DEFAULT_KUBECONFIG, warnings)
    if doc is not None:
        return config.cluster_init_config(doc, warnings, cert_dir), "cluster"
    return config.cluster_init_config({}, warnings, cert_dir), "defaults"


def _from_cluster(fs, kubeconfig_path: str, warnings: list):
    """The cluster's ClusterConfiguration document, or None (absent kubeconfig, no answer)."""
    if not fs.exists(kubeconfig_path):
        return None
    try:
        client = tokencmd.client_for(fs, kubeconfig_path, timeout=PROBE_TIMEOUT, retry_timeout=0)
        configmap = client.get("ConfigMap", C.KUBEADM_CONFIG_CM, C.KUBE_SYSTEM)
        text = (configmap.get("data") or {}).get(C.KUBEADM_CONFIG_KEY)
        return kubeadmconfig.parse_cluster_configuration(text, f"ConfigMap {C.KUBE_SYSTEM}/{C.KUBEADM_CONFIG_CM}",
                                                         warnings)
    except errors.KubebootError as exc:
        warnings.append(f"{FALLBACK_NOTE} ({exc})")
        return None


# --- options -------------------------------------------------------------------------------------

def check_params(params: dict) -> dict:
    """The validated actions of one run; one clear error per bad input, before anything is done."""
    renew = [str(name).strip() for name in params.get("renew") or []]
    window = params.get("renew_before")
    actions = [name for name, on in (("renew", renew or window), ("generate_csr", params.get("generate_csr")))
               if on]
    if len(actions) > 1:
        raise errors.InvalidValue("generate_csr", True, "not together with renew/renew_before (generate-csr "
                                                        "is for a node without certificates, renew for one with them)")
    if window is not None and str(window).strip() != "":
        window = durations.parse_duration(window, "renew_before")
        if window <= 0:
            raise errors.InvalidValue("renew_before", params["renew_before"], "a positive Go duration such as 720h")
        renew = renew or [renewal.ALL]
    else:
        window = None
    return {"renew": renew, "renew_before": window}


# --- generate-csr --------------------------------------------------------------------------------

def generate_csr(cfg, fs, writer, kubeconfig_dir: str) -> list:
    """`kubeadm certs generate-csr`: a key and a CSR for every leaf of the certificate tree
    (`<cert_dir>/<base>.key` + `.csr`) and every kubeconfig (`<dir>/<file>` holding only its client
    key + `<file>.csr`). What exists already and still fits (a matching CSR, or the signed
    certificate) is kept, so a rerun changes nothing."""
    algorithm = pki.encryption_algorithm(cfg)
    plans = [_leaf_plan(fs, cfg, spec) for spec in pki.CERTS if not spec.is_ca]
    plans += [_kubeconfig_plan(fs, cfg, spec, kubeconfig_dir) for spec in kubeconfig.KUBECONFIGS]
    pool = pkiutil.generate_keys(algorithm, sum(1 for plan in plans if plan["action"] != "kept" and not plan["key"]))
    results = []
    for plan in plans:
        if plan["action"] != "kept":
            _write_csr(writer, plan, plan["key"] or pool.pop())
        results.append({"name": plan["name"], "csr": plan["csr"], "key": plan["key_file"], "action": plan["action"]})
    return results


def _leaf_plan(fs, cfg, spec) -> dict:
    want = pki.wanted(spec, cfg)
    base = posixpath.join(pki.subdir(cfg), spec.base)
    plan = {"name": spec.name, "csr": base + C.CSR_SUFFIX, "key_file": base + ".key", "kubeconfig": None,
            "cn": want["cn"], "organizations": want["organizations"], "dns": want["dns"], "ips": want["ips"]}
    key_pem = fs.read_bytes(plan["key_file"])
    plan["key"] = pkiutil.load_private_key(key_pem, plan["key_file"]) if key_pem else None
    signed = fs.read_bytes(base + ".crt")
    if plan["key"] is not None and signed and pkiutil.check_pair(pkiutil.load_certificate(signed, base + ".crt"),
                                                                 plan["key"]):
        plan["action"] = "kept"  # signed by the external CA already
    else:
        plan["action"] = _csr_state(fs, plan)
    return plan


def _kubeconfig_plan(fs, cfg, spec, kubeconfig_dir: str) -> dict:
    path = posixpath.join(kubeconfig_dir, spec.file)
    plan = {"name": spec.file, "csr": path + C.CSR_SUFFIX, "key_file": path, "kubeconfig": spec,
            "cn": kubeconfig.user_for(spec, cfg), "organizations": list(spec.organizations), "dns": [], "ips": [],
            "server": kubeconfig.server_for(spec, cfg), "cluster_name": cfg.cluster.get("clusterName") or C.CLUSTER_NAME,
            "key": None}
    text = fs.read_text(path)
    if text is not None:
        info = kubeconfig.parse_kubeconfig(text, path)
        if info["client_key_pem"]:
            plan["key"] = pkiutil.load_private_key(info["client_key_pem"], path + " client key")
        if plan["key"] is not None and info["client_cert_pem"]:
            plan["action"] = "kept"  # completed with the signed certificate
            return plan
    plan["action"] = _csr_state(fs, plan) if plan["key"] is not None else "created"
    return plan


def _csr_state(fs, plan: dict) -> str:
    """kept (key + matching CSR), created (nothing usable) or updated (a new CSR for the key)."""
    if plan["key"] is None:
        return "created"
    pem = fs.read_bytes(plan["csr"])
    if pem and pkiutil.csr_matches(pkiutil.load_csr(pem, plan["csr"]), plan["key"], plan["cn"],
                                   plan["organizations"], plan["dns"], plan["ips"]):
        return "kept"
    return "updated"


def _write_csr(writer, plan: dict, key) -> None:
    csr = pkiutil.new_csr(key, plan["cn"], plan["organizations"], plan["dns"], plan["ips"])
    key_pem = pkiutil.key_to_pem(key)
    if plan["kubeconfig"] is None:
        writer.write(plan["key_file"], key_pem, C.MODE_KEY, secret=True)
    else:
        text = kubeconfig.render_kubeconfig(plan["server"], None, plan["cn"], client_key_pem=key_pem,
                                            cluster_name=plan["cluster_name"], partial=True)
        writer.write(plan["key_file"], text, C.MODE_KUBECONFIG, secret=True)
    writer.write(plan["csr"], pkiutil.csr_to_pem(csr), C.MODE_CERT)


def _csr_config(params: dict, warnings: list):
    """generate-csr needs this node's names (SANs): kubeadm's InitConfiguration from `config`."""
    try:
        cfg = config.build_init_config({"config": params.get("config"), "cert_dir": params.get("cert_dir")})
    except errors.InvalidValue as exc:
        if exc.field == "apiserver_advertise_address":
            raise errors.InvalidValue("config", params.get("config"),
                                      "a kubeadm config whose InitConfiguration sets localAPIEndpoint."
                                      "advertiseAddress (this host has no default route to take it from)") from None
        raise
    warnings.extend(cfg.warnings)
    return cfg


# --- the module ----------------------------------------------------------------------------------

def run_certs(params: dict, check_mode: bool = False, no_log: bool = False) -> dict:
    """The kubeadm_certs module: renew and/or generate-csr and/or a certificate key, then the
    check-expiration report of what is (in check mode: would be) on disk. A certificate key is
    returned only to a task with `no_log: true`."""
    actions = check_params(params)
    if params.get("generate_certificate_key") and not no_log:
        raise errors.InvalidValue("generate_certificate_key", True, "no_log: true on the task: the certificate key "
                                                                    "decrypts the cluster's CA keys in kubeadm-certs")
    # renewals and CSRs write into the tree: one run at a time on it (init, join, reset, upgrade)
    with RootfsLock(params.get("rootfs") or "/", create=False):
        return _run_certs(params, actions, check_mode)


def _run_certs(params: dict, actions: dict, check_mode: bool) -> dict:
    fs = HostFS(params.get("rootfs") or "/")
    writer = Writer(fs, check_mode=check_mode)
    warnings: list = []
    result = {"changed": False}
    if params.get("generate_csr"):
        cfg, source = _csr_config(params, warnings), "config" if params.get("config") else "defaults"
        result["csr"] = generate_csr(cfg, fs, writer, params.get("kubeconfig_dir") or C.KUBERNETES_DIR)
    else:
        cfg, source = cluster_config(params, fs, warnings)
    if actions["renew"]:
        renewed = renewal.renew(fs, writer, cfg, actions["renew"], actions["renew_before"],
                                new_keys=bool(params.get("new_keys")),
                                restart=params.get("restart_static_pods", True))
        result["renewal"] = renewed["certificates"]
        result["renewed"] = [item["name"] for item in renewed["certificates"] if item["action"] == "renewed"]
        result["restarted"] = renewed["restarted"]
        for item in renewed["certificates"]:
            warnings.extend(item.pop("warnings", []))
    if params.get("generate_certificate_key"):
        result["certificate_key"] = tokens.generate_certificate_key()
    info = renewal.expiration(writer.view(), cfg)
    result.update(info, table=renewal.table(info), config_source=source, cert_dir=cfg.cert_dir,
                  changed=writer.changed, changed_files=list(writer.log.paths), diff=writer.log.diffs,
                  warnings=warnings)
    return result
