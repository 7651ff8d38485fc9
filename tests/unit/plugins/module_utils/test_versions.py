"""versions.py: the per-minor table is the one source of what changes between minors."""
from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import versions


def test_one_row_per_supported_minor():
    assert [row.minor for row in versions.MINORS] == list(range(C.MIN_SUPPORTED_MINOR, C.MAX_SUPPORTED_MINOR + 1))
    assert all(versions.split(row.newest_patch)[1] == row.minor for row in versions.MINORS)


@pytest.mark.parametrize("minor, facts", [
    (33, dict(probe_port_named=False, etcd_flags="3.5", creation_timestamp=True, flex_volume_mount=True,
              kube_proxy_mode="", pause_image_flag=True, ecdsa_p384=False, v1beta3=True)),
    (34, dict(probe_port_named=True, etcd_flags="image", creation_timestamp=False, flex_volume_mount=True,
              pause_image_flag=True, ecdsa_p384=True)),
    (35, dict(etcd_flags="image", flex_volume_mount=True, pause_image_flag=False)),
    (36, dict(etcd_flags="3.6", flex_volume_mount=False)),
    (37, dict(kube_proxy_mode="iptables", v1beta3=False)),
])
def test_named_facts(minor, facts):
    row = dataclasses.asdict(versions.behaviour(minor))
    assert {k: row[k] for k in facts} == facts


def test_feature_gates_and_graduation():
    assert versions.feature_gates(33)["NodeLocalCRISocket"] == ("alpha", False)
    assert versions.feature_gates(36)["NodeLocalCRISocket"] == ("GA", True)
    assert "NodeLocalCRISocket" not in versions.feature_gates(37)
    assert versions.feature_gate_default("NodeLocalCRISocket", 37) is True  # graduated: always on
    assert versions.feature_gate_default("WaitForAllControlPlaneComponents", 32) is False  # outside the table


def test_outside_the_table_is_the_nearest_row():
    assert versions.behaviour(30) is versions.MINORS[0] and versions.behaviour(40) is versions.MINORS[-1]
    assert versions.coredns_version(40) == versions.MINORS[-1].coredns
