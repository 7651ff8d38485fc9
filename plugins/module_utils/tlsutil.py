# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one TLS client context builder (API server, etcd, HTTPS discovery files).

TLS 1.2 or newer; the server is verified against the given CA PEM (or the system bundle,
plus an extra CA bundle), unless `insecure` (token discovery's first, unverified read).
A client certificate and key given as PEM are handed to ssl through a `files.PrivateDir`
that is removed right after loading: no key material stays on disk.
"""
from __future__ import annotations

import ssl

from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import PrivateDir


def _text(pem) -> str:
    return pem.decode("ascii") if isinstance(pem, bytes) else str(pem)


def client_context(ca_pem=None, cert_pem=None, key_pem=None, insecure: bool = False,
                   extra_ca_pem=None, what: str = "kubeconfig") -> ssl.SSLContext:
    """An SSLContext for a client. Raises InvalidValue(what, ...) for a lone or mismatched
    client certificate/key, and for CA data that is not PEM (never echoing the material)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif ca_pem:
            context.load_verify_locations(cadata=_text(ca_pem))
        else:
            context.load_default_certs()
        if extra_ca_pem and not insecure:
            context.load_verify_locations(cadata=_text(extra_ca_pem))
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidValue(what, "CA certificate", f"PEM CA certificates ({getattr(exc, 'reason', '') or exc})") \
            from None
    if cert_pem or key_pem:
        _load_client_pair(context, cert_pem, key_pem, what)
    return context


def _load_client_pair(context: ssl.SSLContext, cert_pem, key_pem, what: str) -> None:
    if not (cert_pem and key_pem):
        raise InvalidValue(what, "client certificate", "both a client certificate and a key")
    with PrivateDir("kubeboot-tls-") as holder:
        try:
            context.load_cert_chain(holder.file("client.crt", cert_pem), holder.file("client.key", key_pem))
        except ssl.SSLError as exc:
            raise InvalidValue(what, "client certificate",
                               f"a matching PEM certificate and key ({exc.reason})") from None
