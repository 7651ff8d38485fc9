"""Server-side printing: `meta.k8s.io/v1` Tables, as kubectl asks for them (`Accept: ...;as=Table`).

Columns follow kube-apiserver's printers (pkg/printers/internalversion/printers.go) for Nodes and
Pods; every other resource gets the default Name / Created At columns. Cells are rendered on the
server, Age with apimachinery's HumanDuration, as the real server does.
"""
from __future__ import annotations

import datetime

TABLE_MEDIA = "as=Table"


def wants_table(accept: str) -> bool:
    """True when the client's first choice is a Table (kubectl get does this)."""
    first = (accept or "").split(",")[0]
    return TABLE_MEDIA in first.replace(" ", "")


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24
        rest = days % 365
        return f"{days // 365}y{rest}d" if rest else f"{days // 365}y"
    return f"{hours // 24 // 365}y"


def _age(obj: dict, now: datetime.datetime) -> str:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    return human_duration((now - created).total_seconds())


def _column(name: str, priority: int = 0, fmt: str = "") -> dict:
    return {"name": name, "type": "string", "format": fmt, "description": "", "priority": priority}


def _node_status(node: dict) -> str:
    ready = next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    return state


def _node_roles(node: dict) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    roles = {key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")
             and key.split("/", 1)[1]}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    return ",".join(sorted(roles)) or "<none>"


def _address(node: dict, kind: str) -> str:
    for item in (node.get("status") or {}).get("addresses") or []:
        if item.get("type") == kind:
            return item.get("address", "")
    return "<none>"


def _node_cells(node: dict, now) -> list:
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return [node["metadata"]["name"], _node_status(node), _node_roles(node), _age(node, now),
            info.get("kubeletVersion", ""), _address(node, "InternalIP"), _address(node, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _pod_cells(pod: dict, now) -> list:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    containers = spec.get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    if not statuses and any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in status.get("conditions") or []):
        ready = len(containers)
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    return [pod["metadata"]["name"], f"{ready}/{len(containers)}", status.get("phase") or "Pending",
            str(restarts), _age(pod, now), status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            "<none>", "<none>"]


PRINTERS = {
    "nodes": ([_column("Name", fmt="name"), _column("Status"), _column("Roles"), _column("Age"),
               _column("Version"), _column("Internal-IP", 1), _column("External-IP", 1),
               _column("OS-Image", 1), _column("Kernel-Version", 1), _column("Container-Runtime", 1)],
              _node_cells),
    "pods": ([_column("Name", fmt="name"), _column("Ready"), _column("Status"), _column("Restarts"),
              _column("Age"), _column("IP", 1), _column("Node", 1), _column("Nominated Node", 1),
              _column("Readiness Gates", 1)],
             _pod_cells),
}
DEFAULT = ([_column("Name", fmt="name"), {"name": "Created At", "type": "date", "format": "",
                                          "description": "", "priority": 0}],
           lambda obj, _now: [obj["metadata"]["name"], (obj.get("metadata") or {}).get("creationTimestamp", "")])


def to_table(plural: str, result: dict, now=None) -> dict:
    """A Table for a get (one object) or list result."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    columns, cells = PRINTERS.get(plural, DEFAULT)
    items = result.get("items") if "items" in result else [result]
    rows = [{"cells": cells(item, now),
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": item.get("metadata") or {}}}
            for item in items]
    meta = {"resourceVersion": (result.get("metadata") or {}).get("resourceVersion", "")}
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": columns, "rows": rows}
