"""The same certificate set made the other ways users make it: a community.crypto playbook
(openssl_privatekey / openssl_csr_pipe / x509_certificate, one task per file) and an
`openssl req/x509` shell script, as hand-written guides do.

Both are generated from a tree kubeadm_init wrote (subjects, SANs, usages read back from the
certificates with cryptography), so they make the same set: 3 CAs, 7 leaves, sa, and the 5
kubeconfig client certificates (as files; neither writes the kubeconfigs, manifests or kubelet
files the module also writes)."""
from __future__ import annotations

import base64
import os
import shlex

import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PKI = "etc/kubernetes/pki"
CAS = ("ca", "front-proxy-ca", "etcd/ca")
LEAVES = ("apiserver", "apiserver-kubelet-client", "front-proxy-client", "etcd/server", "etcd/peer",
          "etcd/healthcheck-client", "apiserver-etcd-client")
KUBECONFIGS = ("admin", "super-admin", "kubelet", "controller-manager", "scheduler")
CLIENT_DIR = "kubeconfig-certs"   # where the alternatives put the kubeconfig client certificates
DIRS = (PKI, PKI + "/etcd", CLIENT_DIR)
EKU = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}
CA_DAYS, LEAF_DAYS = 3650, 365


def _spec(name: str, cert: x509.Certificate, ca_names: dict) -> dict:
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = ([f"DNS:{d}" for d in san.get_values_for_type(x509.DNSName)]
                + [f"IP:{ip}" for ip in san.get_values_for_type(x509.IPAddress)])
    except x509.ExtensionNotFound:
        sans = []
    try:
        eku = [EKU[oid] for oid in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value]
    except x509.ExtensionNotFound:
        eku = []
    issuer = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    return {"name": name, "cn": cn, "orgs": orgs, "sans": sans, "eku": eku,
            "ca": None if is_ca else ca_names[issuer]}


def certificate_set(rootfs: str) -> dict:
    """{"cas": [...], "leaves": [...], "clients": [...]} read from a tree kubeadm_init wrote."""
    def load(path):
        with open(os.path.join(rootfs, path), "rb") as handle:
            return x509.load_pem_x509_certificate(handle.read())
    ca_certs = {name: load(f"{PKI}/{name}.crt") for name in CAS}
    ca_names = {c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value: n for n, c in ca_certs.items()}
    out = {"cas": [_spec(n, c, ca_names) for n, c in ca_certs.items()],
           "leaves": [_spec(n, load(f"{PKI}/{n}.crt"), ca_names) for n in LEAVES], "clients": []}
    for name in KUBECONFIGS:
        with open(os.path.join(rootfs, "etc/kubernetes", f"{name}.conf")) as handle:
            user = yaml.safe_load(handle)["users"][0]["user"]
        cert = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
        out["clients"].append(_spec(name, cert, ca_names))
    return out


def _paths(spec: dict, client: bool) -> tuple:
    base = f"{CLIENT_DIR}/{spec['name']}" if client else f"{PKI}/{spec['name']}"
    return base + ".key", base + ".crt"


def _ca_paths(name: str) -> tuple:
    return f"{PKI}/{name}.key", f"{PKI}/{name}.crt"


# --- community.crypto -------------------------------------------------------------------------

def crypto_playbook(certs: dict, key_size: int = 2048) -> list:
    """One play; the tree root is the `root` variable. Three tasks per certificate, two for sa."""
    tasks = []
    every = [(s, False) for s in certs["cas"] + certs["leaves"]] + [(s, True) for s in certs["clients"]]
    for spec, client in every:
        key, crt = _paths(spec, client)
        label = spec["name"]
        tasks.append({"name": f"{label} key", "community.crypto.openssl_privatekey": {
            "path": "{{ root }}/" + key, "type": "RSA", "size": key_size, "mode": "0600"}})
        csr = {"privatekey_path": "{{ root }}/" + key, "common_name": spec["cn"], "use_common_name_for_san": False,
               "subject_alt_name": spec["sans"] or None, "basic_constraints_critical": True,
               "key_usage_critical": True}
        if spec["orgs"]:
            csr["subject"] = {"O": spec["orgs"]}
        if spec["ca"] is None:
            csr.update(basic_constraints=["CA:TRUE"], key_usage=["digitalSignature", "keyEncipherment", "keyCertSign"])
        else:
            csr.update(basic_constraints=["CA:FALSE"], key_usage=["digitalSignature", "keyEncipherment"],
                       extended_key_usage=spec["eku"])
        tasks.append({"name": f"{label} csr", "community.crypto.openssl_csr_pipe": {
            k: v for k, v in csr.items() if v is not None}, "register": "csr"})
        cert = {"path": "{{ root }}/" + crt, "csr_content": "{{ csr.csr }}", "mode": "0644"}
        if spec["ca"] is None:
            cert.update(provider="selfsigned", privatekey_path="{{ root }}/" + key,
                        selfsigned_not_after=f"+{CA_DAYS}d")
        else:
            ca_key, ca_crt = _ca_paths(spec["ca"])
            cert.update(provider="ownca", ownca_path="{{ root }}/" + ca_crt,
                        ownca_privatekey_path="{{ root }}/" + ca_key, ownca_not_after=f"+{LEAF_DAYS}d")
        tasks.append({"name": f"{label} certificate", "community.crypto.x509_certificate": cert})
    tasks.append({"name": "sa key", "community.crypto.openssl_privatekey": {
        "path": "{{ root }}/" + PKI + "/sa.key", "type": "RSA", "size": key_size, "mode": "0600"}})
    tasks.append({"name": "sa public key", "community.crypto.openssl_publickey": {
        "path": "{{ root }}/" + PKI + "/sa.pub", "privatekey_path": "{{ root }}/" + PKI + "/sa.key",
        "mode": "0644"}})
    return [{"name": "The kubeadm certificate set with community.crypto", "hosts": "localhost",
             "gather_facts": False, "tasks": tasks}]


# --- openssl shell script ------------------------------------------------------------------------

def _subject(spec: dict) -> str:
    return "".join(f"/O={o}" for o in spec["orgs"]) + f"/CN={spec['cn']}"


def openssl_script(certs: dict, key_size: int = 2048) -> str:
    """bash, run as `bash script ROOT`: genrsa, req, x509 -req per certificate, like the guides."""
    q = shlex.quote
    lines = ["#!/bin/bash", "# The kubeadm certificate set with the openssl CLI (generated by make bench).",
             "set -euo pipefail", 'cd "$1"', "ext=$(mktemp)", "trap 'rm -f \"$ext\"' EXIT"]
    for spec in certs["cas"]:
        key, crt = _ca_paths(spec["name"])
        san = ",".join(spec["sans"])
        lines += [f"openssl genrsa -out {key} {key_size} 2>/dev/null",
                  f"openssl req -x509 -new -key {key} -sha256 -days {CA_DAYS} -subj {q(_subject(spec))} "
                  f"-addext {q('basicConstraints=critical,CA:TRUE')} "
                  f"-addext {q('keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign')} "
                  f"-addext {q('subjectAltName=' + san)} -out {crt}"]
    for spec, client in [(s, False) for s in certs["leaves"]] + [(s, True) for s in certs["clients"]]:
        key, crt = _paths(spec, client)
        ca_key, ca_crt = _ca_paths(spec["ca"])
        ext = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
               "extendedKeyUsage=" + ",".join(spec["eku"])]
        if spec["sans"]:
            ext.append("subjectAltName=" + ",".join(spec["sans"]))
        lines += [f"openssl genrsa -out {key} {key_size} 2>/dev/null",
                  f"printf '%s\\n' {' '.join(q(e) for e in ext)} > \"$ext\"",
                  f"openssl req -new -key {key} -subj {q(_subject(spec))} -out {crt}.csr",
                  f"openssl x509 -req -in {crt}.csr -CA {ca_crt} -CAkey {ca_key} -CAcreateserial -sha256 "
                  f"-days {LEAF_DAYS} -extfile \"$ext\" -out {crt} 2>/dev/null",
                  f"rm -f {crt}.csr"]
    lines += [f"openssl genrsa -out {PKI}/sa.key {key_size} 2>/dev/null",
              f"openssl rsa -in {PKI}/sa.key -pubout -out {PKI}/sa.pub 2>/dev/null",
              f"chmod 600 {PKI}/*.key {PKI}/etcd/*.key {CLIENT_DIR}/*.key"]
    return "\n".join(lines) + "\n"


def expected_files() -> list:
    """Every file both alternatives must leave (relative to the tree root)."""
    files = []
    for name in CAS + LEAVES:
        files += [f"{PKI}/{name}.key", f"{PKI}/{name}.crt"]
    for name in KUBECONFIGS:
        files += [f"{CLIENT_DIR}/{name}.key", f"{CLIENT_DIR}/{name}.crt"]
    return sorted(files + [f"{PKI}/sa.key", f"{PKI}/sa.pub"])
