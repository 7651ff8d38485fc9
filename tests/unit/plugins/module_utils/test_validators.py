"""validators.py: one validator per concept, the field named as written, secrets never repeated."""
from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import validators
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import HIDDEN, ConfigError


@pytest.mark.parametrize("value, kind", [
    ("10.0.0.1", "ip"), ("2001:db8::1", "ip"), ("k8s.example.com", "dns"), ("*.apps.example.com", "dns"),
    ("*.*.example.com", None), ("bad_name!", None), ("UPPER.example.com", None), ("a" * 254, None), (5, None)])
def test_san_kind(value, kind):
    assert validators.san_kind(value) == kind


@pytest.mark.parametrize("validator, value, expected", [
    (validators.port, "6443", 6443), (validators.duration, "0", "0s"), (validators.duration, "90m", "1h30m0s"),
    (validators.as_list, "a, b,,c", ["a", "b", "c"]),
    (validators.ignore_preflight_errors, ["NumCPU", " numcpu", "Swap"], ["numcpu", "swap"]),
    (validators.extra_args, [{"name": "v", "value": 4}, {"name": "x", "value": True}],
     [{"name": "v", "value": "4"}, {"name": "x", "value": "true"}]),
    (validators.extra_args_from_map, {"b": 1, "a": None}, [{"name": "a", "value": ""}, {"name": "b", "value": "1"}]),
    (validators.feature_gates, "A=true,B=false", {"A": True, "B": False}),
])
def test_normalised(validator, value, expected):
    assert validator("f", value) == expected


@pytest.mark.parametrize("validator, value", [
    (validators.port, 0), (validators.port, True), (validators.duration, "-1h"), (validators.cidrs, "10.0.0.0/33"),
    (validators.cidrs, "10.0.0.0/8,10.1.0.0/16"), (validators.node_name, "Bad_Name"),
    (validators.ignore_preflight_errors, ["all", "swap"]), (validators.extra_args, {"a": "b"}),
    (validators.feature_gates, "A"), (validators.boolean, "yes"), (validators.absolute_path, "etc/x"),
])
def test_refused_with_the_field(validator, value):
    with pytest.raises(ConfigError) as err:
        validator("the_field", value)
    assert err.value.field == "the_field"


def test_cri_socket():
    warnings = []
    assert validators.cri_socket("cri_socket", "/run/containerd/containerd.sock", warnings) == \
        "unix:///run/containerd/containerd.sock"
    assert warnings and "no URL scheme" in warnings[0]
    with pytest.raises(ConfigError, match="removed in Kubernetes 1.24"):
        validators.cri_socket("cri_socket", "unix:///var/run/dockershim.sock", [])


@pytest.mark.parametrize("validator, secret", [(validators.token, "abcdef.0123456789ABCDEF"),
                                               (validators.certificate_key, "zz" * 32)])
def test_secrets_are_never_repeated(validator, secret):
    with pytest.raises(ConfigError) as err:
        validator("secret_field", secret)
    assert err.value.value == HIDDEN and secret not in str(err.value)


def test_host_port():
    assert validators.host_port("e", "[2001:db8::1]:6443", port_required=True) == ("2001:db8::1", 6443)
    assert validators.host_port("e", "lb.example.com") == ("lb.example.com", None)
    for bad in ("lb.example.com", "2001:db8::1:6443"):
        with pytest.raises(ConfigError):
            validators.host_port("e", bad, port_required=True)
