"""Authentication (x509 client certs, bootstrap tokens, anonymous) and authorization (RBAC + a
simplified Node authorizer), following kube-apiserver's behaviour for the parts kubeadm touches."""
from __future__ import annotations

import base64
import datetime
import hmac
import re
from dataclasses import dataclass, field

TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
BOOTSTRAP_TOKEN_TYPE = "bootstrap.kubernetes.io/token"


@dataclass
class UserInfo:
    name: str
    groups: list = field(default_factory=list)
    uid: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = self.extra
        return out


ANONYMOUS = UserInfo("system:anonymous", ["system:unauthenticated"])
SYSTEM = UserInfo("system:apiserver", ["system:masters", "system:authenticated"])


class Unauthorized(Exception):
    pass


def _authenticated(user: UserInfo) -> UserInfo:
    if "system:authenticated" not in user.groups:
        user.groups.append("system:authenticated")
    return user


def from_peer_cert(peercert: dict | None) -> UserInfo | None:
    """`ssl.SSLSocket.getpeercert()` of a verified client cert -> user (CN) + groups (O)."""
    if not peercert:
        return None
    cn, orgs = None, []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    if not cn:
        return None
    return _authenticated(UserInfo(cn, orgs))


def secret_data(secret: dict) -> dict:
    out = {}
    for k, v in (secret.get("data") or {}).items():
        try:
            out[k] = base64.b64decode(v).decode()
        except (ValueError, UnicodeDecodeError):
            out[k] = ""
    return out


def parse_rfc3339(s: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None


def token_expired(data: dict, now: datetime.datetime | None = None) -> bool:
    exp = data.get("expiration")
    if not exp:
        return False
    when = parse_rfc3339(exp)
    if when is None:
        return True  # unparseable: Kubernetes treats it as expired
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return (now or datetime.datetime.now(datetime.timezone.utc)) >= when


def bootstrap_token_user(token: str, get_secret) -> UserInfo | None:
    """The bootstrap token authenticator. get_secret(ns, name) -> Secret dict or None."""
    m = TOKEN_RE.match(token)
    if not m:
        return None
    tid, tsecret = m.groups()
    secret = get_secret("kube-system", "bootstrap-token-" + tid)
    if not secret or secret.get("type") != BOOTSTRAP_TOKEN_TYPE:
        return None
    if secret.get("metadata", {}).get("deletionTimestamp"):
        return None
    data = secret_data(secret)
    if data.get("token-id") != tid or not hmac.compare_digest(data.get("token-secret", ""), tsecret):
        return None
    if token_expired(data):
        return None
    if data.get("usage-bootstrap-authentication") != "true":
        return None
    groups = ["system:bootstrappers"]
    for g in (data.get("auth-extra-groups") or "").split(","):
        g = g.strip()
        if g and g not in groups:
            groups.append(g)
    return _authenticated(UserInfo("system:bootstrap:" + tid, groups))


def authenticate(peercert, authorization: str | None, get_secret, static_tokens=None) -> UserInfo:
    """Order as in kube-apiserver: x509 first, then bearer tokens, then anonymous."""
    user = from_peer_cert(peercert)
    if user:
        return user
    if authorization:
        parts = authorization.split(" ", 1)
        if len(parts) == 2 and parts[0].lower() == "bearer" and parts[1].strip():
            token = parts[1].strip()
            if static_tokens and token in static_tokens:
                u = static_tokens[token]
                return _authenticated(UserInfo(u.name, list(u.groups)))
            user = bootstrap_token_user(token, get_secret)
            if user:
                return user
            raise Unauthorized("invalid bearer token")
    return UserInfo(ANONYMOUS.name, list(ANONYMOUS.groups))


# --------------------------------------------------------------------------- authorization

@dataclass
class Attributes:
    user: UserInfo
    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # non-resource requests
    resource_request: bool = True


def _subject_matches(subject: dict, user: UserInfo, binding_ns: str) -> bool:
    kind = subject.get("kind")
    name = subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return user.name == f"system:serviceaccount:{ns}:{name}"
    return False


def _has(values, wanted) -> bool:
    return "*" in values or wanted in values


def rule_allows(rule: dict, a: Attributes) -> bool:
    if not _has(rule.get("verbs") or [], a.verb):
        return False
    if not a.resource_request:
        for url in rule.get("nonResourceURLs") or []:
            if url == "*" or url == a.path or (url.endswith("*") and a.path.startswith(url[:-1])):
                return True
        return False
    if rule.get("nonResourceURLs") and not rule.get("resources"):
        return False
    if not _has(rule.get("apiGroups") or [], a.api_group):
        return False
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    resources = rule.get("resources") or []
    ok = False
    for r in resources:
        if r == "*" or r == combined:
            ok = True
        elif a.subresource and (r == f"{a.resource}/*" or r == f"*/{a.subresource}"):
            ok = True
    if not ok:
        return False
    names = rule.get("resourceNames") or []
    if names:
        return bool(a.name) and a.name in names
    return True


# The Node authorizer's fallback rules (bootstrappolicy.NodeRules(), the parts that matter here).
NODE_RULES = [
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "create", "delete"]},
    {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch", "update"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch", "update"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    # mirror pods of the node's static pods, and their status
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete"]},
    {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["update", "patch"]},
    {"apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
     "verbs": ["create", "get", "list", "watch"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "verbs": ["get", "create", "update", "patch", "delete"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
]


def node_authorizer(a: Attributes) -> bool | None:
    """Simplified Node authorizer: for users `system:node:<n>` in `system:nodes`.

    Allows the NodeRules above, but patch/update/delete of nodes (and nodes/status) only for the
    node's own name. No graph-based checks for secrets/configmaps/pods (those are denied here and
    left to RBAC). Returns True (allow) or None (no opinion)."""
    if "system:nodes" not in a.user.groups or not a.user.name.startswith("system:node:"):
        return None
    if not a.resource_request:
        return None
    node = a.user.name[len("system:node:"):]
    if a.api_group == "" and a.resource == "nodes" and a.verb in ("patch", "update", "delete"):
        return True if a.name == node else None
    if any(rule_allows(r, a) for r in NODE_RULES):
        return True
    return None


class Authorizer:
    """Node authorizer, then RBAC over the stored roles and bindings. system:masters bypasses."""

    def __init__(self, list_objects, get_object):
        # list_objects(resource, namespace|None) -> list[dict]; get_object(resource, ns, name)
        self._list = list_objects
        self._get = get_object

    def _role_rules(self, ref: dict, namespace: str | None) -> list:
        kind, name = ref.get("kind"), ref.get("name")
        if kind == "ClusterRole":
            role = self._get("clusterroles", None, name)
        elif kind == "Role" and namespace:
            role = self._get("roles", namespace, name)
        else:
            role = None
        return (role or {}).get("rules") or []

    def allowed(self, a: Attributes) -> bool:
        if "system:masters" in a.user.groups:
            return True
        if node_authorizer(a):
            return True
        for crb in self._list("clusterrolebindings", None):
            if any(_subject_matches(s, a.user, "") for s in crb.get("subjects") or []):
                if any(rule_allows(r, a) for r in self._role_rules(crb.get("roleRef") or {}, None)):
                    return True
        if a.resource_request and a.namespace:
            for rb in self._list("rolebindings", a.namespace):
                if any(_subject_matches(s, a.user, a.namespace) for s in rb.get("subjects") or []):
                    rules = self._role_rules(rb.get("roleRef") or {}, a.namespace)
                    if any(rule_allows(r, a) for r in rules):
                        return True
        return False


def forbidden_message(a: Attributes, qualified: str) -> str:
    if not a.resource_request:
        return f'forbidden: User "{a.user.name}" cannot {a.verb} path "{a.path}"'
    res = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    subject = f'{qualified} "{a.name}"' if a.name else qualified
    scope = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    return (f'{subject} is forbidden: User "{a.user.name}" cannot {a.verb} resource "{res}" '
            f'in API group "{a.api_group}" {scope}')
