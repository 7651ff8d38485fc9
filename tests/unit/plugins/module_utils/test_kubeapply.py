"""kubeapply.py: objects checked before anything is sent; kinds the client does not know are found
through the API's discovery (real discovery documents of the API double)."""
from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, kubeapply
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue


@pytest.mark.parametrize("text, field", [
    ("kind: ConfigMap\nmetadata: {name: a}\n", "objects[1].apiVersion"),
    ("apiVersion: v1\nkind: ConfigMap\n", "objects[1].metadata.name"),
    ("- 5\n", "objects[1]"),
    ("", "objects"),
])
def test_bad_objects_name_the_item(text, field):
    with pytest.raises(InvalidValue) as err:
        kubeapply.parse_objects(text)
    assert err.value.field == field


def test_a_yaml_list_document_is_a_list_of_objects():
    objs = kubeapply.parse_objects("- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
                                   "- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n")
    assert [o["metadata"]["name"] for o in objs] == ["a", "b"]


def test_unknown_kinds_come_from_discovery(api_double):
    double = api_double()
    api = ApiWriter(apiclient.Client.from_kubeconfig(open(double.admin_kubeconfig).read()))
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "default"},
             "involvedObject": {"kind": "Node", "name": "n1"}, "reason": "Test"}
    assert not apiclient.known_kind("Event")
    kubeapply.learn_kinds(api, [event])
    assert apiclient.resource_path("Event", "e1", "default") == "/api/v1/namespaces/default/events/e1"
    assert kubeapply.apply_objects(api, [event]) == ["Event/default/e1"]
    assert kubeapply.apply_objects(api, [event]) == []  # a rerun changes nothing
    ghost = {"apiVersion": "example.com/v1", "kind": "Ghost", "metadata": {"name": "g"}}
    kubeapply.learn_kinds(api, [ghost])
    assert "not in the API's discovery" in " ".join(api.log.notes)
