"""The resource types the double serves, with what discovery needs to say about them."""
from __future__ import annotations

from dataclasses import dataclass, field

RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short: tuple = ()
    subresources: tuple = ()
    verbs: tuple = tuple(RW)
    virtual: bool = False  # create-only review objects, never stored
    list_only: bool = False  # served as (empty or stored) lists only

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`configmaps` / `deployments.apps` as used in Kubernetes error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


CORE = ""
RESOURCES = [
    Resource(CORE, "v1", "namespaces", "Namespace", False, ("ns",), ("status", "finalize")),
    Resource(CORE, "v1", "configmaps", "ConfigMap", True, ("cm",)),
    Resource(CORE, "v1", "secrets", "Secret", True),
    Resource(CORE, "v1", "nodes", "Node", False, ("no",), ("status",)),
    Resource(CORE, "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    Resource(CORE, "v1", "services", "Service", True, ("svc",), ("status",)),
    Resource(CORE, "v1", "endpoints", "Endpoints", True, ("ep",)),
    Resource(CORE, "v1", "pods", "Pod", True, ("po",), ("status", "eviction")),
    Resource(CORE, "v1", "events", "Event", True, ("ev",)),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("status", "scale")),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), ("status",)),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest",
             False, ("csr",), ("approval", "status")),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    # CNI manifests (calico) create CRDs and a PodDisruptionBudget: stored, not acted on
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
             ("crd", "crds"), ("status",)),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), ("status",)),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
             False, verbs=("create",), virtual=True),
    Resource("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview",
             False, verbs=("create",), virtual=True),
]

BY_GVR = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}


def groups() -> list[tuple[str, str]]:
    seen = []
    for r in RESOURCES:
        if r.group and (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen


def lookup(group: str, version: str, plural: str) -> Resource | None:
    return BY_GVR.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> Resource | None:
    return BY_KIND.get((api_version, kind))


def resource_list(group: str, version: str) -> dict:
    out = []
    for r in RESOURCES:
        if r.group != group or r.version != version:
            continue
        entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": list(r.verbs)}
        if r.short:
            entry["shortNames"] = list(r.short)
        out.append(entry)
        for sub in r.subresources:
            verbs = ["get", "patch", "update"]
            if sub == "finalize":
                verbs = ["update"]
            out.append({"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                        "kind": r.kind, "verbs": verbs})
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


def api_group(group: str) -> dict:
    versions = [{"groupVersion": f"{g}/{v}", "version": v} for g, v in groups() if g == group]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list() -> dict:
    names = []
    for g, _ in groups():
        if g not in names:
            names.append(g)
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{k: v for k, v in api_group(g).items() if k not in ("kind", "apiVersion")}
                       for g in names]}


@dataclass
class Request:
    """A parsed API path."""
    resource: Resource | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    extra: list = field(default_factory=list)


def parse_path(parts: list[str]) -> Request | None:
    """parts = path segments after `/api/v1` or `/apis/<g>/<v>`, with group/version prepended."""
    group, version, rest = parts[0], parts[1], parts[2:]
    if not rest:
        return None
    ns = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        candidate = lookup(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            ns, rest = rest[1], rest[2:]
    res = lookup(group, version, rest[0])
    if res is None:
        return Request(None, ns, None, None, rest)
    req = Request(res, ns)
    if len(rest) >= 2:
        req.name = rest[1]
    if len(rest) >= 3:
        req.subresource = rest[2]
    if len(rest) > 3:
        req.extra = rest[3:]
    return req
