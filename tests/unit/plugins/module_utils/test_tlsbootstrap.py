"""tlsbootstrap.py: the module-mode CSR against the API double (its approver and signer run when the
test says), the issued certificate checked with openssl."""
from __future__ import annotations

import subprocess
import time

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, tlsbootstrap
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter

from tests.support.joinlab import TOKEN, Lab


@pytest.fixture
def lab(tmp_path):
    lab = Lab(str(tmp_path), controllers=False)
    yield lab
    lab.stop()


def bootstrap_api(lab):
    return ApiWriter(apiclient.Client(lab.url, ca_pem=lab.ca_pem, token=TOKEN, retry_timeout=5))


def test_csr_is_polled_soon_then_less_often(lab, tmp_path, openssl):
    """A cluster that signs at once is seen within a fraction of a second (no idle poll interval);
    while it does not, the polls back off to the interval."""
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 6:  # the cluster's approver and signer run only now
            lab.double.run_controllers()
        time.sleep(seconds / 100)

    cert_pem, key_pem, name = tlsbootstrap.request_certificate(bootstrap_api(lab), "worker1", timeout=30,
                                                               interval=1.0, sleep=sleep)
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert name.startswith("node-csr-") and key_pem.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    path = tmp_path / "kubelet.pem"
    path.write_bytes(cert_pem)
    verify = subprocess.run([openssl, "verify", "-CAfile", f"{lab.pki_dir}/ca.crt", str(path)],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    subject = subprocess.run([openssl, "x509", "-noout", "-subject", "-in", str(path)], capture_output=True,
                             text=True).stdout
    assert "CN = system:node:worker1" in subject and "O = system:nodes" in subject


def test_csr_that_is_never_signed_times_out_with_backoff(lab):
    now = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    with pytest.raises(tlsbootstrap.TLSBootstrapError, match="timed out after 5s"):
        tlsbootstrap.request_certificate(bootstrap_api(lab), "worker2", timeout=5, interval=1.0, sleep=sleep,
                                         clock=lambda: now[0])
    assert waits[:5] == [0.1, 0.2, 0.4, 0.8, 1.0] and set(waits[4:]) == {1.0} and sum(waits) < 6
