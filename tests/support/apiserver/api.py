"""Request semantics of the API double (transport-independent): storage with Kubernetes metadata,
authorization per request, discovery, Status errors, reviews, CSR bookkeeping."""
from __future__ import annotations

import base64
import copy
import datetime
import json
import random
import re
import threading
import uuid
from urllib.parse import parse_qs

from . import patch as patchlib
from . import openapi, policy, protobuf, tables
from . import resources as R
from . import selectors
from .auth import (Attributes, Authorizer, SYSTEM, UserInfo, Unauthorized, authenticate,
                   forbidden_message)
from .store import KeyExists, KeyMissing, MemoryStore, RevisionMismatch, registry_key

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
PATH_SEGMENT_KINDS = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
                      "CertificateSigningRequest"}
PROTECTED_NAMESPACES = {"default", "kube-system", "kube-public"}
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_TYPES = {"application/json", "application/merge-patch+json", "application/strategic-merge-patch+json",
              "application/json-patch+json", "application/apply-patch+yaml", "text/plain"}
CREATE_ON_UPDATE = {"roles", "rolebindings", "clusterroles", "clusterrolebindings", "leases"}


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class StatusError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            out["details"] = self.details
        return out


def _details(res: R.Resource, name: str | None) -> dict:
    d = {"kind": res.plural}
    if name:
        d["name"] = name
    if res.group:
        d["group"] = res.group
    return d


def not_found(res: R.Resource, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{res.qualified} "{name}" not found', _details(res, name))


def already_exists(res: R.Resource, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists',
                       _details(res, name))


def conflict(res: R.Resource, name: str) -> StatusError:
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has been '
                       f"modified; please apply your changes to the latest version and try again",
                       _details(res, name))


def invalid(res: R.Resource, name: str, causes: list[tuple[str, str]]) -> StatusError:
    msg = "; ".join(f"{f}: {m}" for f, m in causes)
    if len(causes) > 1:
        msg = "[" + ", ".join(f"{f}: {m}" for f, m in causes) + "]"
    d = _details(res, name)
    d["kind"] = res.kind
    d["causes"] = [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]
    return StatusError(422, "Invalid", f'{res.kind} "{name}" is invalid: {msg}', d)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def _strip_list_item(obj: dict) -> dict:
    obj = dict(obj)
    obj.pop("kind", None)
    obj.pop("apiVersion", None)
    return obj


def _gen_suffix() -> str:
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))


class APIServer:
    """The API surface. `handle()` serves one HTTP-level request; the other methods are the
    unauthorized internal operations the controllers and tests use."""

    def __init__(self, store=None, version: str = "v1.34.10", ca_cert_pem: bytes | None = None,
                 ca_key_pem: bytes | None = None, static_tokens: dict | None = None,
                 server_address: str = ""):
        self.store = store if store is not None else MemoryStore()
        self.version = version
        self.ca_cert_pem = ca_cert_pem
        self.ca_key_pem = ca_key_pem
        self.static_tokens = static_tokens or {}
        self.server_address = server_address
        self.authorizer = Authorizer(self._list_plain, self._get_plain)
        self._lock = threading.RLock()
        self.seed()

    # ------------------------------------------------------------------ seeding
    def seed(self):
        for ns in policy.NAMESPACES:
            self._ensure(R.lookup("", "v1", "namespaces"), None, policy.namespace(ns))
        for cr in policy.CLUSTER_ROLES:
            self._ensure(R.lookup("rbac.authorization.k8s.io", "v1", "clusterroles"), None, cr)
        for crb in policy.CLUSTER_ROLE_BINDINGS:
            self._ensure(R.lookup("rbac.authorization.k8s.io", "v1", "clusterrolebindings"), None, crb)

    def _ensure(self, res, ns, obj):
        try:
            self.create(res, ns, copy.deepcopy(obj))
        except StatusError as exc:
            if exc.reason != "AlreadyExists":
                raise

    # ------------------------------------------------------------------ plain helpers
    @staticmethod
    def res(plural: str) -> R.Resource:
        for r in R.RESOURCES:
            if r.plural == plural:
                return r
        raise KeyError(plural)

    def _key(self, res: R.Resource, ns, name=None):
        return registry_key(res.plural, ns if res.namespaced else None, name)

    def _get_plain(self, plural, ns, name):
        return self.store.get(self._key(self.res(plural), ns, name))

    def _list_plain(self, plural, ns):
        res = self.res(plural)
        items, _ = self.store.list(self._key(res, ns) if (ns or not res.namespaced) else
                                   f"/registry/{res.plural}/")
        return items

    def get_secret(self, ns, name):
        return self._get_plain("secrets", ns, name)

    # ------------------------------------------------------------------ storage operations
    def get(self, res: R.Resource, ns, name) -> dict:
        obj = self.store.get(self._key(res, ns, name))
        if obj is None:
            raise not_found(res, name)
        return obj

    def list(self, res: R.Resource, ns, label_selector=None, field_selector=None) -> dict:
        try:
            lreq = selectors.parse_label_selector(label_selector)
            freq = selectors.parse_field_selector(field_selector, res.kind)
        except selectors.SelectorError as exc:
            raise bad_request(str(exc)) from exc
        prefix = self._key(res, ns) if (ns and res.namespaced) or not res.namespaced else \
            f"/registry/{res.plural}/"
        if res.virtual:
            items, rev = [], self.store.revision
        else:
            items, rev = self.store.list(prefix)
        items = [i for i in items if selectors.match_labels(lreq, i.get("metadata", {}).get("labels"))
                 and selectors.match_fields(freq, i)]
        return {"kind": res.kind + "List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(rev)}, "items": [_strip_list_item(i) for i in items]}

    def _validate_meta(self, res, obj, name, ns):
        causes = []
        if not name:
            causes.append(("metadata.name", "Required value: name or generateName is required"))
        elif res.kind in PATH_SEGMENT_KINDS:
            if name in (".", "..") or "/" in name or "%" in name:
                causes.append(("metadata.name", f'Invalid value: "{name}": may not contain \'/\' or \'%\''))
        elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
            causes.append(("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain '
                           "must consist of lower case alphanumeric characters, '-' or '.', and must "
                           "start and end with an alphanumeric character"))
        if res.plural == "secrets":
            for k in (obj.get("data") or {}):
                if not re.match(r"^[-._a-zA-Z0-9]+$", k):
                    causes.append((f"data[{k}]", f'Invalid value: "{k}": a valid config key must '
                                   "consist of alphanumeric characters, '-', '_' or '.'"))
        if causes:
            raise invalid(res, name or "", causes)

    def _normalize(self, res: R.Resource, obj: dict):
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        if res.plural == "secrets":
            string_data = obj.pop("stringData", None) or {}
            data = obj.setdefault("data", {}) if (obj.get("data") or string_data) else obj.get("data")
            for k, v in string_data.items():
                data[k] = base64.b64encode(v.encode()).decode()
            obj.setdefault("type", "Opaque")
            for k, v in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(v, validate=True)
                except (ValueError, TypeError) as exc:
                    raise bad_request(f"illegal base64 data in data[{k}]") from exc

    def create(self, res: R.Resource, ns, obj: dict, user: UserInfo | None = None,
               dry_run: bool = False) -> dict:
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if res.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and ns and body_ns != ns:
                raise bad_request("the namespace of the provided object does not match the namespace "
                                  "sent on the request")
            ns = ns or body_ns
            if not ns:
                raise bad_request("the server could not find the requested resource")
            meta["namespace"] = ns
            ns_obj = self.store.get(self._key(self.res("namespaces"), None, ns))
            if ns_obj is None:
                raise not_found(self.res("namespaces"), ns)
            if ns_obj["metadata"].get("deletionTimestamp"):
                raise StatusError(403, "Forbidden", f'{res.qualified} "{meta.get("name", "")}" is forbidden: '
                                  f"unable to create new content in namespace {ns} because it is being "
                                  "terminated", _details(res, meta.get("name")))
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + _gen_suffix()
        name = meta.get("name", "")
        self._normalize(res, obj)
        self._validate_meta(res, obj, name, ns)
        for k in ("resourceVersion", "deletionTimestamp", "selfLink"):
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if "spec" in obj or res.group == "apps":
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if res.plural == "namespaces":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj["status"] = {"phase": "Active"}
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        if res.plural == "certificatesigningrequests":
            self._csr_on_create(res, obj, user or SYSTEM)
        if res.group == "apps":
            obj["status"] = {}
        if dry_run:
            out = copy.deepcopy(obj)
            return out
        try:
            return self.store.create(self._key(res, ns, name), obj)
        except KeyExists as exc:
            raise already_exists(res, name) from exc

    def _csr_on_create(self, res, obj, user: UserInfo):
        spec = obj.setdefault("spec", {})
        for k in ("username", "uid", "groups", "extra"):
            spec.pop(k, None)
        spec["username"] = user.name
        spec["groups"] = list(user.groups)
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = user.extra
        obj["status"] = {}
        causes = []
        if not spec.get("signerName"):
            causes.append(("spec.signerName", "Required value"))
        if not spec.get("usages"):
            causes.append(("spec.usages", "Required value"))
        try:
            from cryptography import x509
            x509.load_pem_x509_csr(base64.b64decode(spec.get("request", "")))
        except Exception:  # noqa: BLE001 - any decode failure is a validation error
            causes.append(("spec.request", "Invalid value: []byte{...}: PEM block type must be "
                           "CERTIFICATE REQUEST"))
        exp = spec.get("expirationSeconds")
        if exp is not None and (not isinstance(exp, int) or exp < 600):
            causes.append(("spec.expirationSeconds", f"Invalid value: {exp}: may not specify a duration "
                           "less than 600 seconds (10 minutes)"))
        if causes:
            raise invalid(res, obj["metadata"].get("name", ""), causes)

    def update(self, res: R.Resource, ns, name, obj: dict, subresource: str | None = None,
               user: UserInfo | None = None, dry_run: bool = False, _current: dict | None = None) -> dict:
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the "
                              f"URL ({name})")
        if res.namespaced and meta.get("namespace") and meta["namespace"] != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent "
                              "on the request")
        key = self._key(res, ns, name)
        current = _current if _current is not None else self.store.get(key)
        if current is None:
            if res.plural in CREATE_ON_UPDATE and not subresource:
                meta["name"] = name
                return self.create(res, ns, obj, user, dry_run)
            raise not_found(res, name)
        cur_rv = int(current["metadata"]["resourceVersion"])
        want_rv = meta.get("resourceVersion")
        if want_rv not in (None, ""):
            try:
                want_rv = int(want_rv)
            except ValueError as exc:
                raise bad_request(f"invalid resourceVersion {want_rv!r}") from exc
            if want_rv != cur_rv:
                raise conflict(res, name)
        self._normalize(res, obj)
        new = self._merge_for_update(res, current, obj, subresource)
        nmeta = new["metadata"]
        cmeta = current["metadata"]
        nmeta["name"] = name
        if res.namespaced:
            nmeta["namespace"] = ns
        keep = ("uid", "creationTimestamp") if subresource == "status" and res.plural == "namespaces" \
            else ("uid", "creationTimestamp", "deletionTimestamp")
        for k in keep:
            if k in cmeta:
                nmeta[k] = cmeta[k]
            else:
                nmeta.pop(k, None)
        nmeta.pop("resourceVersion", None)
        if "generation" in cmeta:
            nmeta["generation"] = cmeta["generation"]
            if new.get("spec") != current.get("spec"):
                nmeta["generation"] = cmeta["generation"] + 1
        self._validate_meta(res, new, name, ns)
        if dry_run:
            return new
        try:
            return self.store.update(key, new, cur_rv)
        except RevisionMismatch as exc:
            raise conflict(res, name) from exc
        except KeyMissing as exc:
            raise not_found(res, name) from exc

    @staticmethod
    def _merge_for_update(res, current, obj, subresource):
        new = copy.deepcopy(obj)
        has_status = "status" in res.subresources
        if subresource in (None, ""):
            if has_status and "status" in current:
                new["status"] = copy.deepcopy(current["status"])
            elif has_status:
                new.pop("status", None)
            if res.plural == "certificatesigningrequests":
                new["spec"] = copy.deepcopy(current.get("spec", {}))
            return new
        if subresource not in res.subresources:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        base = copy.deepcopy(current)
        if subresource == "status":
            base["status"] = copy.deepcopy(new.get("status", {}))
            if res.plural == "certificatesigningrequests":
                # approval conditions cannot be changed through /status
                old = [c for c in current.get("status", {}).get("conditions", [])
                       if c.get("type") in ("Approved", "Denied")]
                rest = [c for c in base["status"].get("conditions", [])
                        if c.get("type") not in ("Approved", "Denied")]
                if old or rest:
                    base["status"]["conditions"] = old + rest
        elif subresource == "approval":
            base.setdefault("status", {})["conditions"] = copy.deepcopy(
                new.get("status", {}).get("conditions", []))
        elif subresource == "finalize":
            base["spec"] = copy.deepcopy(new.get("spec", {}))
        else:
            raise StatusError(405, "MethodNotAllowed", f"subresource {subresource} is not supported")
        base["metadata"] = copy.deepcopy(new.get("metadata") or current["metadata"])
        for k in ("labels", "annotations"):
            if subresource and k in current["metadata"] and k not in base["metadata"]:
                base["metadata"][k] = current["metadata"][k]
        return base

    def patch(self, res: R.Resource, ns, name, content_type: str, body: bytes,
              subresource: str | None = None, user: UserInfo | None = None, dry_run: bool = False) -> dict:
        ctype = (content_type or "").split(";")[0].strip()
        try:
            doc = json.loads(body or b"null")
        except ValueError as exc:
            raise bad_request(f"error decoding patch: {exc}") from exc
        for _ in range(5):
            current = self.get(res, ns, name)
            try:
                if ctype == "application/merge-patch+json":
                    new = patchlib.merge_patch(current, doc)
                elif ctype == "application/strategic-merge-patch+json":
                    new = patchlib.strategic_merge_patch(current, doc)
                elif ctype == "application/json-patch+json":
                    new = patchlib.json_patch(current, doc)
                elif ctype == "application/apply-patch+yaml":
                    raise StatusError(415, "UnsupportedMediaType",
                                      "server-side apply is not supported by this test double")
                else:
                    raise StatusError(415, "UnsupportedMediaType",
                                      f"the body of the request was in an unknown format - accepted "
                                      f"media types include: application/json-patch+json, "
                                      f"application/merge-patch+json, application/apply-patch+yaml")
            except patchlib.PatchError as exc:
                raise StatusError(422, "Invalid", str(exc)) from exc
            if not isinstance(new, dict):
                raise bad_request("patch result is not an object")
            new.setdefault("metadata", {})
            explicit_rv = isinstance(doc, dict) and (doc.get("metadata") or {}).get("resourceVersion")
            if not explicit_rv:
                new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            try:
                return self.update(res, ns, name, new, subresource, user, dry_run, _current=current)
            except StatusError as exc:
                if exc.reason == "Conflict" and not explicit_rv:
                    continue  # lost a race with a controller: retry like the real apiserver
                raise
        raise conflict(res, name)

    def delete(self, res: R.Resource, ns, name, dry_run: bool = False) -> dict:
        if res.plural == "namespaces" and name in PROTECTED_NAMESPACES:
            raise StatusError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may '
                              "not be deleted", _details(res, name))
        key = self._key(res, ns, name)
        if dry_run:
            return self.get(res, ns, name)
        if res.plural == "namespaces":
            # like Kubernetes: the namespace turns Terminating; the namespace controller empties
            # and removes it (see controllers.namespace)
            cur = self.get(res, None, name)
            if cur["metadata"].get("deletionTimestamp"):
                return cur
            cur["metadata"]["deletionTimestamp"] = now_rfc3339()
            cur["status"] = {"phase": "Terminating"}
            return self.update(res, None, name, cur, "status")
        try:
            return self.store.delete(key)
        except KeyMissing as exc:
            raise not_found(res, name) from exc

    def finalize_namespace(self, name: str):
        """Delete everything in a terminating namespace, then the namespace itself."""
        for r in R.RESOURCES:
            if r.namespaced and not r.virtual:
                for item in self._list_plain(r.plural, name):
                    try:
                        self.store.delete(self._key(r, name, item["metadata"]["name"]))
                    except KeyMissing:
                        pass
        try:
            self.store.delete(self._key(self.res("namespaces"), None, name))
        except KeyMissing:
            pass

    # ------------------------------------------------------------------ reviews
    def self_subject_access_review(self, user: UserInfo, body: dict) -> dict:
        spec = (body or {}).get("spec") or {}
        ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if ra:
            a = Attributes(user, ra.get("verb", ""), ra.get("group", ""), ra.get("resource", ""),
                           ra.get("subresource", ""), ra.get("namespace", ""), ra.get("name", ""))
        elif nra:
            a = Attributes(user, nra.get("verb", ""), path=nra.get("path", ""), resource_request=False)
        else:
            raise StatusError(422, "Invalid", 'SelfSubjectAccessReview.authorization.k8s.io "" is '
                              "invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of "
                              "nonResourceAttributes or resourceAttributes must be specified")
        allowed = self.authorizer.allowed(a)
        out = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
               "metadata": {"creationTimestamp": None}, "spec": spec, "status": {"allowed": allowed}}
        if allowed and "system:masters" not in user.groups:
            out["status"]["reason"] = "RBAC: allowed"
        return out

    @staticmethod
    def self_subject_review(user: UserInfo) -> dict:
        return {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": None}, "status": {"userInfo": user.as_dict()}}

    # ------------------------------------------------------------------ HTTP-level entry point
    def version_info(self) -> dict:
        m = re.match(r"^v(\d+)\.(\d+)", self.version)
        major, minor = (m.group(1), m.group(2)) if m else ("1", "0")
        return {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
                "minCompatibilityMajor": major, "minCompatibilityMinor": str(max(int(minor) - 1, 0)),
                "gitVersion": self.version, "gitCommit": "0" * 40, "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
                "platform": "linux/amd64"}

    def authenticate(self, peercert, authorization) -> UserInfo:
        return authenticate(peercert, authorization, self.get_secret, self.static_tokens)

    def handle(self, method: str, path: str, query: str, headers, body: bytes, peercert=None):
        """Returns (code, payload) where payload is a dict (JSON) or str (text/plain)."""
        try:
            try:
                user = self.authenticate(peercert, headers.get("Authorization"))
            except Unauthorized:
                return 401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
            ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
            if body and ctype == PROTOBUF:
                try:
                    body = json.dumps(protobuf.decode(body)).encode()
                except protobuf.ProtobufError as exc:
                    return 415, StatusError(415, "UnsupportedMediaType", str(exc)).status()
            elif body and ctype and ctype not in JSON_TYPES:
                return 415, StatusError(415, "UnsupportedMediaType",
                                        f'the body of the request was in an unknown format - accepted '
                                        f'media types include: {", ".join(sorted(JSON_TYPES))}').status()
            return self._route(method, path, parse_qs(query or ""), headers, body, user)
        except StatusError as exc:
            return exc.code, exc.status()

    def _nonresource(self, method, path, user):
        verb = {"HEAD": "get"}.get(method, method.lower())
        a = Attributes(user, verb, path=path, resource_request=False)
        if not self.authorizer.allowed(a):
            raise StatusError(403, "Forbidden", forbidden_message(a, ""), {})
        if method not in ("GET", "HEAD"):
            raise StatusError(405, "MethodNotAllowed", "the server does not allow this method on the "
                              "requested resource")

    def _route(self, method, path, query, headers, body, user):
        path = "/" + path.strip("/") if path != "/" else "/"
        parts = [p for p in path.split("/") if p]
        if path in ("/healthz", "/livez", "/readyz") or (parts and parts[0] in ("healthz", "livez",
                                                                                  "readyz")):
            self._nonresource(method, path, user)
            return 200, "ok"
        if path in ("/version", "/version/"):
            self._nonresource(method, path, user)
            return 200, self.version_info()
        if path == "/api":
            self._nonresource(method, path, user)
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}]}
        if path == "/apis":
            self._nonresource(method, path, user)
            return 200, R.api_group_list()
        if parts and parts[0] == "api" and len(parts) >= 2:
            gv_parts = ["", parts[1]]
            rest = parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 2:
            known = {g for g, _ in R.groups()}
            if parts[1] not in known:
                self._nonresource(method, path, user)
                raise StatusError(404, "NotFound", "the server could not find the requested resource")
            if len(parts) == 2:
                self._nonresource(method, path, user)
                return 200, R.api_group(parts[1])
            gv_parts = [parts[1], parts[2]]
            rest = parts[3:]
        else:
            if parts and parts[0] in ("openapi", "metrics", "debug", "logs"):
                self._nonresource(method, path, user)
            if parts[:2] == ["openapi", "v3"]:
                doc = openapi.lookup(path)
                if doc is not None:
                    return 200, doc
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        if (gv_parts[0], gv_parts[1]) not in R.groups() and not (gv_parts[0] == "" and gv_parts[1] == "v1"):
            self._nonresource(method, path, user)
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            self._nonresource(method, path, user)
            return 200, R.resource_list(*gv_parts)
        req = R.parse_path(gv_parts + rest)
        if req is None or req.resource is None or req.extra:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        return self._resource_request(method, req, query, headers, body, user)

    def _resource_request(self, method, req: R.Request, query, headers, body, user):
        res = req.resource
        q = {k: v[-1] for k, v in query.items()}
        watch = q.get("watch") in ("1", "true")
        if method in ("GET", "HEAD"):
            verb = "get" if req.name else ("watch" if watch else "list")
        elif method == "POST":
            verb = "create"
        elif method == "PUT":
            verb = "update"
        elif method == "PATCH":
            verb = "patch"
        elif method == "DELETE":
            verb = "delete" if req.name else "deletecollection"
        else:
            raise StatusError(405, "MethodNotAllowed", "method not allowed")
        if req.subresource and req.subresource not in res.subresources:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        if verb not in res.verbs and not (req.subresource and verb in ("get", "update", "patch")):
            raise StatusError(405, "MethodNotAllowed",
                              f'the server does not allow this method on the requested resource')
        ns = req.namespace if res.namespaced else None
        name = req.name
        if verb == "create" and req.name and not req.subresource:
            raise StatusError(405, "MethodNotAllowed", "the server does not allow this method on the "
                              "requested resource")
        obj = None
        if method in ("POST", "PUT"):
            try:
                obj = json.loads(body or b"null")
            except ValueError as exc:
                raise bad_request(f"the object provided is unrecognized ({exc})") from exc
            if verb == "create" and isinstance(obj, dict):
                name = name or (obj.get("metadata") or {}).get("name") or ""
        a = Attributes(user, verb, res.group, res.plural, req.subresource or "", ns or "", name or "")
        if not self.authorizer.allowed(a):
            raise StatusError(403, "Forbidden", forbidden_message(a, res.qualified), _details(res, name))
        dry_run = "dryRun" in query
        if res.plural == "selfsubjectaccessreviews":
            return 201, self.self_subject_access_review(user, obj)
        if res.plural == "selfsubjectreviews":
            return 201, self.self_subject_review(user)
        if verb == "get":
            obj = self.get(res, ns, name)
            return 200, (tables.to_table(res.plural, obj) if tables.wants_table(headers.get("Accept")) else obj)
        if verb == "watch":
            self.list(res, ns, q.get("labelSelector"), q.get("fieldSelector"))  # validates selectors
            return 200, WatchStream(self, res, ns, q)
        if verb == "list":
            listed = self.list(res, ns, q.get("labelSelector"), q.get("fieldSelector"))
            return 200, (tables.to_table(res.plural, listed) if tables.wants_table(headers.get("Accept"))
                         else listed)
        if verb == "create" and req.subresource == "eviction":
            return 201, self.evict(res, ns, name, dry_run)
        if verb == "create":
            created = self.create(res, ns, obj, user, dry_run)
            return 201, created
        if verb == "update":
            return 200, self.update(res, ns, name, obj, req.subresource, user, dry_run)
        if verb == "patch":
            return 200, self.patch(res, ns, name, headers.get("Content-Type", ""), body,
                                   req.subresource, user, dry_run)
        if verb == "delete":
            opts = {}
            if body:
                try:
                    opts = json.loads(body) or {}
                except ValueError:
                    opts = {}
            pre = (opts.get("preconditions") or {}) if isinstance(opts, dict) else {}
            if pre:
                cur = self.get(res, ns, name)
                if pre.get("uid") and pre["uid"] != cur["metadata"].get("uid"):
                    raise conflict(res, name)
                if pre.get("resourceVersion") and pre["resourceVersion"] != cur["metadata"]["resourceVersion"]:
                    raise conflict(res, name)
            return 200, self.delete(res, ns, name, dry_run or bool(opts.get("dryRun")) if isinstance(
                opts, dict) else dry_run)
        if verb == "deletecollection":
            listed = self.list(res, ns, q.get("labelSelector"), q.get("fieldSelector"))
            for item in listed["items"]:
                try:
                    self.delete(res, item["metadata"].get("namespace"), item["metadata"]["name"], dry_run)
                except StatusError:
                    pass
            return 200, listed
        raise StatusError(405, "MethodNotAllowed", "method not allowed")

    def evict(self, res: R.Resource, ns, name, dry_run: bool = False) -> dict:
        """POST pods/<name>/eviction: refused (429) while a PodDisruptionBudget selecting the pod allows no
        disruption (minAvailable / maxUnavailable as integers, every matching pod counted healthy);
        otherwise the pod is deleted (deletion is immediate in the double)."""
        pod = self.get(res, ns, name)
        labels = pod["metadata"].get("labels") or {}
        pdbs = self.list(R.BY_GVR[("policy", "v1", "poddisruptionbudgets")], ns)["items"]
        pods = self.list(res, ns)["items"]
        for pdb in pdbs:
            wanted = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if not wanted or any(labels.get(k) != v for k, v in wanted.items()):
                continue
            healthy = sum(1 for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v
                                                 for k, v in wanted.items()))
            spec = pdb["spec"]
            allowed = healthy - int(spec["minAvailable"]) if "minAvailable" in spec else \
                int(spec.get("maxUnavailable", 1))
            if allowed <= 0:
                raise StatusError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's "
                                  "disruption budget.", {"causes": [{"reason": "DisruptionBudget", "message":
                                  f"The disruption budget {pdb['metadata']['name']} needs {spec.get('minAvailable')} "
                                  f"healthy pods and has {healthy} currently"}]})
        if not dry_run:
            self.delete(res, ns, name)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    # ------------------------------------------------------------------ convenience for tests
    def put_object(self, obj: dict) -> dict:
        """Create-or-replace as the system (tests/controllers): the kind decides the resource."""
        res = R.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        if res is None:
            raise KeyError(f"unknown kind {obj.get('apiVersion')}/{obj.get('kind')}")
        meta = obj.get("metadata", {})
        ns = meta.get("namespace") if res.namespaced else None
        if res.namespaced and not ns:
            ns = meta["namespace"] = "default"
        try:
            return self.create(res, ns, copy.deepcopy(obj), SYSTEM)
        except StatusError as exc:
            if exc.reason != "AlreadyExists":
                raise
        body = copy.deepcopy(obj)
        body.get("metadata", {}).pop("resourceVersion", None)
        return self.update(res, ns, meta["name"], body, None, SYSTEM)


class WatchStream:
    """A polling watch: yields watch events (dicts) until timeoutSeconds or `stop()`.

    With resourceVersion "" or "0" every current object is first sent as ADDED; with a
    concrete resourceVersion only objects modified after it are. Then changes found by
    polling the store every `interval` seconds are sent (ADDED/MODIFIED/DELETED)."""

    interval = 0.1

    def __init__(self, api: APIServer, res: R.Resource, ns, q: dict):
        self.api, self.res, self.ns, self.q = api, res, ns, q
        try:
            self.timeout = min(float(q.get("timeoutSeconds") or 60), 600)
        except ValueError:
            self.timeout = 60

    def _snapshot(self):
        items = self.api.list(self.res, self.ns, self.q.get("labelSelector"),
                              self.q.get("fieldSelector"))["items"]
        out = {}
        for i in items:
            i = dict(i, kind=self.res.kind, apiVersion=self.res.api_version)
            out[(i["metadata"].get("namespace"), i["metadata"]["name"])] = i
        return out

    def events(self, stopped):
        import time as _time
        since = self.q.get("resourceVersion") or "0"
        state = self._snapshot()
        for obj in state.values():
            if since == "0" or int(obj["metadata"]["resourceVersion"]) > int(since):
                yield {"type": "ADDED", "object": obj}
        deadline = _time.monotonic() + self.timeout
        while _time.monotonic() < deadline and not stopped():
            _time.sleep(self.interval)
            new = self._snapshot()
            for key, obj in new.items():
                old = state.get(key)
                if old is None:
                    yield {"type": "ADDED", "object": obj}
                elif old["metadata"]["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                    yield {"type": "MODIFIED", "object": obj}
            for key, obj in state.items():
                if key not in new:
                    yield {"type": "DELETED", "object": obj}
            state = new
