# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm's certificate renewal manager (phases/certs/renewal): what `kubeadm certs renew` and
`kubeadm certs check-expiration` know, their expiration, and the one renewal path.

The targets come from the tables: every leaf of `pki.CERTS` (by its CA) and every kubeconfig of
`kubeconfig.KUBECONFIGS` that kubeadm renews (kubelet.conf is the kubelet's to rotate), sorted by
name as kubeadm lists them; the CAs are `pki.CAS`. Renewal takes the existing certificate as the
template (CN, O, SANs and usages kept), signs it with the existing CA through
`pkiutil.issue_certificate` for certificateValidityPeriod, keeps the private key unless new keys
are asked for, and never touches a CA. A kubeconfig keeps everything but its client certificate
and key. Control-plane static Pods whose command names a renewed file get their restart
annotation (`C.RESTARTED_AT_ANNOTATION`) set to the renewal time, so the kubelet recreates them
with the new files - kubeadm itself only says "You must restart ...".
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Optional

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    docutil, durations, kubeconfig, kubeconfigutil, manifests, pki, pkiutil, staticpod)
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue, PKIError

ALL = "all"
TIME_FORMAT_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CERT_COLUMNS = ("CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED")
CA_COLUMNS = ("CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED")


@dataclass(frozen=True)
class Target:
    """One certificate kubeadm renews: a PKI leaf (`cert`) or a kubeconfig's client certificate."""

    name: str                                     # kubeadm's name: "apiserver", "admin.conf"
    ca: str                                       # name of the signing CA: "ca", "etcd-ca", ...
    cert: Optional[pki.CertSpec] = None
    kubeconfig: Optional[kubeconfig.KubeconfigSpec] = None

    def path(self, cfg) -> str:
        """The certificate file, or the kubeconfig that embeds the certificate."""
        return pki.cert_path(cfg, self.cert.base) if self.cert else C.kubeconfig_path(self.kubeconfig.file)

    def key_path(self, cfg) -> Optional[str]:
        return pki.key_path(cfg, self.cert.base) if self.cert else None


def targets(cfg) -> list:
    """kubeadm's renewal manager list for this cluster, sorted by name (external etcd: no etcd ones)."""
    found = [Target(spec.name, spec.ca, cert=spec) for spec in pki.CERTS
             if not spec.is_ca and (cfg.local_etcd or not spec.etcd)]
    found += [Target(spec.file, "ca", kubeconfig=spec) for spec in kubeconfig.KUBECONFIGS if spec.renewed]
    return sorted(found, key=lambda target: target.name)


def certificate_authorities(cfg) -> list:
    return sorted((spec for spec in pki.CAS if cfg.local_etcd or not spec.etcd), key=lambda spec: spec.name)


def select(cfg, names) -> list:
    """The targets named (`all` or kubeadm's names); InvalidValue for any other name."""
    known = targets(cfg)
    wanted = [str(name).strip() for name in names or ()]
    allowed = [ALL] + [target.name for target in known]
    unknown = [name for name in wanted if name not in allowed]
    if unknown:
        raise InvalidValue("renew", unknown, "all or kubeadm's certificate names: " + ", ".join(allowed[1:]))
    if ALL in wanted:
        return known
    return [target for target in known if target.name in wanted]


# --- reading what is on disk ----------------------------------------------------------------------

@dataclass
class _Current:
    cert: object
    key: object = None
    key_pem: Optional[bytes] = None
    text: Optional[str] = None   # the kubeconfig holding the certificate


def _read(fs, cfg, target: Target, strict: bool = True) -> Optional[_Current]:
    """The target's certificate (and key) on disk; None when its file does not exist (or, unless
    `strict`, when a kubeconfig has no embedded certificate: generate-csr's files)."""
    path = target.path(cfg)
    data = fs.read_bytes(path)
    if data is None:
        return None
    if target.cert:
        key_pem = fs.read_bytes(target.key_path(cfg))
        key = pkiutil.load_private_key(key_pem, target.key_path(cfg)) if key_pem is not None else None
        return _Current(pkiutil.load_certificate(data, path), key, key_pem)
    text = data.decode("utf-8", "replace")
    user = kubeconfigutil.select(kubeconfigutil.load(text, path, PKIError)).user
    try:
        cert_pem = kubeconfigutil.material(user, "client-certificate-data", "")
        key_pem = kubeconfigutil.material(user, "client-key-data", "")
    except InvalidValue:
        raise PKIError(f"{path}: its client certificate is not valid base64") from None
    if not cert_pem:
        if not strict:
            return None
        raise PKIError(f"kubeConfig file {path} does not have an embedded client certificate")
    key = pkiutil.load_private_key(key_pem, path + " client key") if key_pem else None
    return _Current(pkiutil.load_certificate(cert_pem, path + " client certificate"), key, key_pem, text)


def _external(fs, cfg, ca: pki.CertSpec) -> bool:
    """kubeadm's external CA mode for one CA: its certificate without its key."""
    return fs.exists(pki.cert_path(cfg, ca.base)) and not fs.exists(pki.key_path(cfg, ca.base))


# --- check-expiration -------------------------------------------------------------------------------

def expiration(fs, cfg, now=None) -> dict:
    """kubeadm's CertificateExpirationInfo: {"certificates": rows, "certificate_authorities": rows}.

    A row: name, path, missing, expiration_date (RFC 3339), residual_time (whole seconds, negative
    when expired), ca_name (certificates only), externally_managed, serial (as openssl prints it)."""
    # full precision, like kubeadm's time.Until: a certificate issued this second has 364d left
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    cas = {spec.name: spec for spec in pki.CAS}
    rows = []
    for target in targets(cfg):
        current = _read(fs, cfg, target, strict=False)
        row = _row(target.name, target.path(cfg), current.cert if current else None, moment,
                   _external(fs, cfg, cas[target.ca]))
        row["ca_name"] = target.ca
        rows.append(row)
    authorities = []
    for spec in certificate_authorities(cfg):
        path = pki.cert_path(cfg, spec.base)
        data = fs.read_bytes(path)
        authorities.append(_row(spec.name, path, pkiutil.load_certificate(data, path) if data else None,
                                moment, _external(fs, cfg, spec)))
    return {"certificates": rows, "certificate_authorities": authorities}


def _row(name: str, path: str, cert, moment, external: bool) -> dict:
    if cert is None:
        return {"name": name, "path": path, "missing": True, "expiration_date": None, "residual_time": None,
                "externally_managed": None, "serial": None}
    expires = pkiutil.not_after(cert)
    return {"name": name, "path": path, "missing": False, "expiration_date": pkiutil.iso(expires),
            "residual_time": int((expires - moment).total_seconds()), "externally_managed": external,
            "serial": pkiutil.serial_hex(cert)}


def go_time(iso_text: str) -> str:
    """RFC 3339 UTC -> Go's "Jan 02, 2006 15:04 MST" (what check-expiration prints)."""
    date, _sep, clock = iso_text.partition("T")
    year, month, day = date.split("-")
    return f"{TIME_FORMAT_MONTHS[int(month) - 1]} {day}, {year} {clock[:5]} UTC"


def table(info: dict) -> str:
    """`kubeadm certs check-expiration`'s text, byte for byte (one tabwriter, two tables)."""
    def yes_no(value) -> str:
        return "%-8s" % ("yes" if value else "no")

    lines = ["\t".join(CERT_COLUMNS)]
    for row in info["certificates"]:
        if row["missing"]:
            lines.append(f"!MISSING! {row['name']}\t\t\t\t")
            continue
        lines.append("\t".join([row["name"], go_time(row["expiration_date"]),
                                durations.short_human_duration(row["residual_time"]), row["ca_name"],
                                yes_no(row["externally_managed"])]))
    lines += ["", "\t".join(CA_COLUMNS)]
    for row in info["certificate_authorities"]:
        if row["missing"]:
            lines.append(f"!MISSING! {row['name']}\t\t\t")
            continue
        lines.append("\t".join([row["name"], go_time(row["expiration_date"]),
                                durations.short_human_duration(row["residual_time"]),
                                yes_no(row["externally_managed"])]))
    return docutil.tabwriter(lines)


# --- renew ----------------------------------------------------------------------------------------

@dataclass
class _Plan:
    target: Target
    current: _Current
    key: object = None     # the key the new certificate gets (None: a new one)


def renew(fs, writer, cfg, names, renew_before: Optional[float] = None, new_keys: bool = False,
          restart: bool = True, now=None) -> dict:
    """`kubeadm certs renew <names>`: renew the named certificates (all of them, or only those that
    expire within `renew_before` seconds) through `writer`, then mark the static Pods that read
    them for a restart. Returns {"certificates": [per target], "restarted": [components]}."""
    moment = pkiutil.now_utc(now)
    validity = pki.validity(cfg)
    if renew_before is not None and renew_before >= validity:
        raise InvalidValue("renew_before", durations.format_duration(renew_before),
                           f"a window shorter than certificateValidityPeriod "
                           f"({durations.format_duration(validity)}), or every run would renew again")
    results, plans, cas = [], [], {}
    for target in select(cfg, names):
        path = target.path(cfg)
        current = _read(fs, cfg, target)
        if current is None:
            results.append({"name": target.name, "path": path, "action": "missing"})
            continue
        if target.ca not in cas:
            cas[target.ca] = pki.load_ca(fs, cfg, pki.BY_NAME[target.ca].base, target.ca)
        if cas[target.ca].key is None:
            results.append({"name": target.name, "path": path, "action": "external",
                            "reason": f"Detected external {target.ca}, {target.name} can't be renewed"})
            continue
        left = (pkiutil.not_after(current.cert) - moment).total_seconds()
        if renew_before is not None and left > renew_before:
            results.append({"name": target.name, "path": path, "action": "valid",
                            "expiration_date": pkiutil.iso(pkiutil.not_after(current.cert)),
                            "reason": f"expires in {durations.short_human_duration(int(left))}, not within "
                                      f"renew_before ({durations.format_duration(renew_before)})"})
            continue
        _check_template(current.cert, path)
        keep = current.key is not None and not new_keys and pkiutil.check_pair(current.cert, current.key)
        plans.append(_Plan(target, current, current.key if keep else None))
    pool = pkiutil.generate_keys(pki.encryption_algorithm(cfg), sum(1 for plan in plans if plan.key is None))
    renewed_paths = []
    for plan in plans:
        key = plan.key or pool.pop()
        result = _issue(writer, cfg, plan, key, cas[plan.target.ca], validity, moment)
        result["key"] = "kept" if plan.key is not None else "new"
        results.append(result)
        renewed_paths += [p for p in (plan.target.path(cfg), plan.target.key_path(cfg)) if p]
    results.sort(key=lambda item: item["name"])
    restarted = restart_static_pods(fs, writer, renewed_paths, moment) if restart and renewed_paths else []
    return {"certificates": results, "restarted": restarted}


def _check_template(cert, path: str) -> None:
    """A certificate renewal can copy (before anything is written)."""
    unknown = [usage for usage in pkiutil.cert_usages(cert) if usage not in pkiutil.USAGE_OIDS]
    if unknown:
        raise PKIError(f"{path}: extended key usages {unknown} are not ones kubeadm issues; "
                       "renew this certificate with the tool that made it")


def _issue(writer, cfg, plan: _Plan, key, ca, validity: float, moment) -> dict:
    """One renewal: the existing certificate as the template, signed by its CA; written through writer."""
    old = plan.current.cert
    target = plan.target
    cn, organizations = pkiutil.subject_fields(old)
    usages = pkiutil.cert_usages(old)
    dns, ips = pkiutil.cert_sans(old)
    cert = pkiutil.issue_certificate(ca.cert, ca.key, key, cn, organizations, usages, dns, ips, validity, moment)
    cert_pem = pkiutil.cert_to_pem(cert)
    kept = key is plan.current.key
    key_pem = plan.current.key_pem if kept else pkiutil.key_to_pem(key)  # a kept key is not rewritten
    path = target.path(cfg)
    if target.cert:
        if not kept:
            writer.write(target.key_path(cfg), key_pem, C.MODE_KEY, secret=True)
        writer.write(path, cert_pem, C.MODE_CERT)
    else:
        text = kubeconfig.replace_client_credentials(plan.current.text, cert_pem, key_pem, path)
        writer.write(path, text, C.MODE_KUBECONFIG, secret=True)
    result = {"name": target.name, "path": path, "action": "renewed",
              "expiration_date": pkiutil.iso(pkiutil.not_after(cert)), "serial": pkiutil.serial_hex(cert),
              "previous_serial": pkiutil.serial_hex(old)}
    if pkiutil.not_after(cert) > pkiutil.not_after(ca.cert):
        result["warnings"] = [f"{target.name} now outlives its CA {target.ca} (expires "
                              f"{pkiutil.iso(pkiutil.not_after(ca.cert))}): plan the CA's renewal"]
    return result


def restart_static_pods(fs, writer, paths, moment) -> list:
    """Set the restart annotation of every control-plane static Pod whose command names one of
    `paths` (kubeadm: "You must restart the kube-apiserver, ..."); returns their names."""
    restarted = []
    stamp = pkiutil.iso(moment)
    for component in manifests.COMPONENTS:
        path = C.manifest_path(component)
        text = fs.read_text(path)
        if text is None or not staticpod.reads_any(text, paths):
            continue
        writer.write(path, staticpod.with_restart_annotation(text, stamp), C.MODE_MANIFEST)
        restarted.append(component)
    return restarted
