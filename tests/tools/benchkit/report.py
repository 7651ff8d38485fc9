"""Results -> goals, the Markdown tables (bench/results/<date>.md, docs/performance.md) and the
join plot (docs/performance-joins.png)."""
from __future__ import annotations

GOALS_TEXT = {
    "init_vs_crypto": "one `kubeadm_init` task >= 20x faster than the community.crypto playbook",
    "init_vs_openssl": "one `kubeadm_init` task >= 2x faster than the openssl script",
    "noop_vs_ping": "no-op rerun <= 1.2x the ping playbook",
    "inprocess_vs_serial": "in-process local init <= 1.0x serial key generation",
    "join_growth": "50 workers <= 5x the time of 5 workers",
}


def goals(results: dict) -> list:
    """[{id, text, measured, limit, met}] from the medians of the paired ratios of one run."""
    out = []

    def add(goal_id, label, value, limit, at_least):
        met = value >= limit if at_least else value <= limit
        out.append({"id": goal_id, "text": GOALS_TEXT[goal_id] + (f", {label}" if label else ""),
                    "measured": value, "limit": limit, "at_least": at_least, "met": met})

    alt = results.get("alternatives")
    if alt:
        add("init_vs_crypto", "", alt["ratios"]["community_crypto/kubeadm_init"]["median"], 20.0, True)
        add("init_vs_openssl", "", alt["ratios"]["openssl_script/kubeadm_init"]["median"], 2.0, True)
    noop = results.get("noop")
    if noop:
        add("noop_vs_ping", "", noop["ratios"]["rerun/ping"]["median"], 1.2, False)
    for row in results.get("inprocess", []):
        if row["algorithm"].startswith("RSA-"):
            add("inprocess_vs_serial", row["algorithm"], row["ratios"]["init/serial_keys"]["median"], 1.0, False)
    joins = results.get("joins")
    if joins:
        for key, growth in joins.get("growth", {}).items():
            add("join_growth", f"forks {key[1:]}", growth["median"], 5.0, False)
    return out


def _s(spread: dict) -> str:
    """median (min–max) in seconds, or in milliseconds below 0.1 s."""
    if spread["median"] < 0.1:
        return f"{spread['median'] * 1000:.1f} ms ({spread['min'] * 1000:.1f}–{spread['max'] * 1000:.1f})"
    return f"{spread['median']:.3f} s ({spread['min']:.3f}–{spread['max']:.3f})"


def _x(spread: dict) -> str:
    digits = 1 if spread["median"] >= 10 else 2
    return f"{spread['median']:.{digits}f}× ({spread['min']:.{digits}f}–{spread['max']:.{digits}f})"


def _met(goal_list, goal_id, label="") -> str:
    for goal in goal_list:
        if goal["id"] == goal_id and (not label or goal["text"].endswith(f", {label}")):
            sign = ">=" if goal["at_least"] else "<="
            return f"goal {sign} {goal['limit']:g}×: **{'met' if goal['met'] else 'NOT met'}**"
    return ""


def tables(results: dict) -> str:
    """The results as Markdown: one table per group, medians of paired runs with min–max."""
    goal_list = results.get("goals") or goals(results)
    lines = []
    if results.get("inprocess"):
        lines += ["### Local `kubeadm init` in-process vs bare key generation (same process, same keys)", "",
                  "| keys | init (all local phases) | serial keys | keys on all cores | init / serial | "
                  "init / all cores | all cores / serial |", "|---|---|---|---|---|---|---|"]
        for row in results["inprocess"]:
            r = row["ratios"]
            goal = _met(goal_list, "inprocess_vs_serial", row["algorithm"])
            lines.append(f"| {row['keys']} × {row['algorithm']} | {_s(row['series']['init'])} | "
                         f"{_s(row['series']['serial_keys'])} | {_s(row['series']['parallel_keys'])} | "
                         f"{_x(r['init/serial_keys'])} {goal} | {_x(r['init/parallel_keys'])} | "
                         f"{_x(r['parallel_keys/serial_keys'])} |")
        lines += ["", f"{results['inprocess'][0]['rounds']} paired rounds per algorithm (init, serial, "
                  "all cores in turn). \"all cores / serial\" is the parallelism the machine gave during the "
                  "run (0.5 on two idle cores, 1.0 with one busy). ECDSA key generation is negligible: there "
                  "the ratios are the module's own work.", ""]
    alt = results.get("alternatives")
    if alt:
        s, r = alt["series"], alt["ratios"]
        lines += ["### The same PKI three ways (whole processes, fresh tree, RSA-2048)", "",
                  "| what | wall | vs one `kubeadm_init` task |", "|---|---|---|",
                  f"| `ansible-playbook` with one `kubeadm_init` task (all local phases) | "
                  f"{_s(s['kubeadm_init'])} | 1 |",
                  f"| `ansible-playbook` with community.crypto, one task per file "
                  f"({alt['tasks']['community_crypto']} tasks) | {_s(s['community_crypto'])} | "
                  f"{_x(r['community_crypto/kubeadm_init'])} slower; {_met(goal_list, 'init_vs_crypto')} |",
                  f"| `openssl genrsa/req/x509` shell script ({alt['openssl_commands']} commands) | "
                  f"{_s(s['openssl_script'])} | {_x(r['openssl_script/kubeadm_init'])} slower; "
                  f"{_met(goal_list, 'init_vs_openssl')} |",
                  "", f"{alt['rounds']} paired rounds (A B C A B C ...); the first round's trees were checked "
                  "with `openssl verify`.", ""]
    noop = results.get("noop")
    if noop:
        s, r = noop["series"], noop["ratios"]
        lines += ["### Nothing to do (existing tree) vs Ansible's floor", "",
                  "| what | wall | vs the ping playbook |", "|---|---|---|",
                  f"| `ansible-playbook` with one `ansible.builtin.ping` task | {_s(s['ping'])} | 1 |",
                  f"| `kubeadm_init` rerun, nothing to do (`changed=0`, no file rewritten) | {_s(s['rerun'])} | "
                  f"{_x(r['rerun/ping'])}; {_met(goal_list, 'noop_vs_ping')} |",
                  f"| `kubeadm_init --check` on the existing tree | {_s(s['check'])} | {_x(r['check/ping'])} |",
                  f"| kubeadm_init's payload doing nothing (bench-only module: same module_utils packed and "
                  f"imported, no work) | {_s(s['payload_floor'])} | {_x(r['payload_floor/ping'])} |",
                  "", f"{noop['rounds']} paired rounds. Rerun / payload floor = {_x(r['rerun/payload_floor'])}: "
                  "the rest of the rerun is the size of the code Ansible packs and the node compiles.", ""]
    joins = results.get("joins")
    if joins:
        lines += ["### Worker joins through `ansible-playbook` (API double + real etcd, module TLS bootstrap)", "",
                  "| workers | forks | wall | per-join latency (median of runs' medians) | slowest join | "
                  "wall per worker | CPU per worker: Ansible + module | CPU per worker: API double + etcd |",
                  "|---|---|---|---|---|---|---|---|"]
        rows = [(name, cell, "") for name, cell in joins["cells"].items() if cell.get("same_run_as", name) == name]
        rows += [(name, cell, "ping: ") for name, cell in joins.get("ping", {}).items()]
        for name, cell, label in rows:
            forks = cell["forks"] if cell["workers"] > min(joins["forks"]) else ", ".join(map(str, joins["forks"]))
            if label:
                forks = cell["forks"]
            lines.append(f"| {label}{cell['workers']} | {forks} | {_s(cell['wall'])} | "
                         f"{_s(cell['latency_median'])} | {_s(cell['latency_max'])} | "
                         f"{_s(cell['wall_per_worker'])} | {_s(cell['cpu_per_worker'])} | "
                         f"{_s(cell['cluster_cpu_per_worker'])} |")
        lines.append("")
        for key, growth in joins.get("growth", {}).items():
            lines.append(f"- growth, forks {key[1:]}: wall(50) / wall(5) = {_x(growth)}; "
                         f"{_met(goal_list, 'join_growth', 'forks ' + key[1:])}")
        if joins.get("ping_growth"):
            lines.append(f"- Ansible's own growth on the same hosts (one `ansible.builtin.ping` task, forks "
                         f"{max(joins['forks'])}): wall(50) / wall(5) = {_x(joins['ping_growth'])}")
        lines += ["", f"{joins['rounds']} rounds after one warm-up join; in each, every row ran once, in turn. "
                  "Ansible starts min(forks, hosts) workers, so up to 10 workers forks 10 and 25 are the same "
                  "run (measured once). Latency: from the controller starting a host's task to its result. "
                  "CPU: the kernel's accounting of ansible-playbook and its children (the modules), and of "
                  "the API double and etcd, divided by the workers.", ""]
    lines += lab_table(results.get("lab") or {"status": "not measured", "reason": "the lab group did not run"})
    if goal_list:
        lines += ["", "### Goals", "", "| goal | measured (median ratio) | met |", "|---|---|---|"]
    for goal in goal_list:
        lines.append(f"| {goal['text']} | {goal['measured']:.2f}× | {'yes' if goal['met'] else '**no**'} |")
    bounds = goal_bounds(results)
    if bounds:
        lines += ["", "What bounds each goal, from this run's medians:", ""] + [f"- {b}" for b in bounds]
    return "\n".join(lines) + "\n"


def _median(results: dict, *path):
    node = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node["median"] if isinstance(node, dict) and "median" in node else node


def goal_bounds(results: dict) -> list:
    """The floor under each goal, computed from the same run: what the collection cannot go below
    whatever it does (Ansible's own start-up, the keys, Ansible's own growth)."""
    out = []
    ping = _median(results, "noop", "series", "ping")
    crypto = _median(results, "alternatives", "series", "community_crypto")
    init_task = _median(results, "alternatives", "series", "kubeadm_init")
    rsa = next((row for row in results.get("inprocess", []) if row["algorithm"] == "RSA-2048"), None)
    if ping and crypto and init_task and rsa:
        floor = ping + rsa["series"]["parallel_keys"]["median"]
        out.append(f"community.crypto: one `kubeadm_init` task needs at least what the ping playbook takes plus its 16 "
                   f"keys on all cores ({ping:.2f} s + {rsa['series']['parallel_keys']['median']:.2f} s = "
                   f"{floor:.2f} s), so the ratio is at most {crypto / floor:.1f}× here (measured "
                   f"{crypto / init_task:.1f}× from medians; 20× needs the task under {crypto / 20:.2f} s).")
    floor_ratio = _median(results, "noop", "ratios", "payload_floor/ping")
    if floor_ratio:
        out.append(f"no-op rerun: kubeadm_init's payload doing nothing already costs {floor_ratio:.2f}× the ping "
                   f"playbook (the code Ansible packs and the node compiles); the rerun's own work is "
                   f"{_median(results, 'noop', 'ratios', 'rerun/payload_floor'):.2f}× that floor.")
    growth = _median(results, "joins", "ping_growth")
    if growth:
        out.append(f"join growth: Ansible alone (one ping task on the same 5 and 50 hosts) grows {growth:.2f}×; "
                   "a join adds CPU per host (module, API double, etcd) on the same two cores.")
    openssl = (results.get("alternatives") or {}).get("ratios", {}).get("openssl_script/kubeadm_init")
    if openssl:
        out.append(f"openssl script: {openssl['min']:.2f}×–{openssl['max']:.2f}× over the rounds; the script runs "
                   f"{results['alternatives']['openssl_commands']} processes one after another on one core, the "
                   "module uses both, so the ratio falls when the machine's other work takes the second core.")
    return out


LAB_RUNS = {"cold (no image)": "cold converge, node image built from nothing (debootstrap)",
            "cold": "cold converge: image built, nothing else of the lab (no nodes, lab state, packages, collections)",
            "warm": "warm converge: `make lab-down && make lab` (fresh nodes, the controller's lab files kept)",
            "rerun": "rerun on the converged nodes (`changed=0` on every host)"}
ROLE_ORDER = ("prereqs", "containerd", "kube_packages", "kubelet", "control_plane", "node", "cni")  # site.yml's
LAB_STEPS = ("node image", "lab packages", "collections", "nodes", "site.yml", "show")


def _role(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def lab_table(lab: dict) -> list:
    """The lab rows: whole `make lab`, its steps (lab.py's timer) and site.yml per role (profile_tasks)."""
    lines = ["### Lab: `make lab` on podman nodes (cp1, w1, w2; one run each)", ""]
    if lab.get("status") != "measured":
        return lines + [f"Not measured: {lab.get('reason')}.", ""]
    runs = lab["runs"]
    seen = {r for run in runs.values() for r in run["roles"]}
    roles = sorted(seen, key=lambda r: (ROLE_ORDER.index(_role(r)) if _role(r) in ROLE_ORDER else len(ROLE_ORDER), r))
    steps = [s for s in LAB_STEPS if any(s in run["steps"] or s + " (build)" in run["steps"] for run in runs.values())]
    lines += ["| run | `make lab` wall | " + " | ".join(steps) + " |", "|---|---|" + "---|" * len(steps)]
    for key, run in runs.items():
        cells = [run["steps"].get(s, run["steps"].get(s + " (build)")) for s in steps]
        lines.append(f"| {LAB_RUNS.get(key, key)} | {run['wall']:.1f} s | "
                     + " | ".join("–" if c is None else f"{c:.1f} s" for c in cells) + " |")
    lines += ["", "site.yml per role (profile_tasks: each task's wall time over all hosts, summed by role):", "",
              "| run | " + " | ".join(_role(r) for r in roles) + " |", "|---|" + "---|" * len(roles)]
    for key, run in runs.items():
        lines.append(f"| {key} | " + " | ".join(f"{run['roles'][r]:.1f} s" if r in run["roles"] else "–"
                                              for r in roles) + " |")
    lines += ["", f"Lab `{lab['name']}` (nodes {lab['name']}-cp1, -w1, -w2), Kubernetes from the lab's packages; every "
              "run checked from outside afterwards (`lab.py check`: kubectl, podman exec, etcdctl; the rerun with "
              "`--idempotent`). `make lab`'s `site.yml --check` pass on fresh nodes is left out "
              "(KUBEBOOT_LAB_CHECK_FRESH=0): these rows time converges. One run each: a converge takes "
              "minutes, so these are not paired; compare them with each other, not across machines. "
              "Logs: build/bench/lab-*.log.", ""]
    return lines


def machine_text(machine: dict) -> str:
    return (f"{machine['os']}, {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gib']:.1f} GiB; "
            f"Python {machine['python']}, ansible-core {machine['ansible_core']}, cryptography "
            f"{machine['cryptography']}, {machine['openssl'].split(' (')[0]}, etcd {machine['etcd']}; load average "
            f"{machine['load_before']} before, {machine['load_after']} after")


def results_markdown(results: dict) -> str:
    return (f"# make bench, {results['date']}\n\n{machine_text(results['machine'])}. "
            f"Whole bench: {results['duration_s']:.0f} s.\n\n" + tables(results))


def plot_joins(results: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    joins = results["joins"]
    colours = dict(zip(joins["forks"], ("tab:blue", "tab:orange", "tab:green")))
    fig, (wall_ax, lat_ax) = plt.subplots(1, 2, figsize=(11, 4.2))

    def line(ax, cells, key, **style):
        xs = [c["workers"] for c in cells]
        med = [c[key]["median"] for c in cells]
        err = [[m - c[key]["min"] for m, c in zip(med, cells)], [c[key]["max"] - m for m, c in zip(med, cells)]]
        ax.errorbar(xs, med, yerr=err, marker="o", capsize=3, **style)

    for forks in joins["forks"]:
        cells = [c for c in joins["cells"].values() if c["forks"] == forks]
        for ax, key in ((wall_ax, "wall"), (lat_ax, "latency_median")):
            line(ax, cells, key, color=colours[forks], label=f"kubeadm_join, forks {forks}")
    ping = sorted(joins.get("ping", {}).values(), key=lambda c: c["workers"])
    if ping:
        for ax, key in ((wall_ax, "wall"), (lat_ax, "latency_median")):
            line(ax, ping, key, color="grey", linestyle="--", label=f"ansible.builtin.ping, forks {ping[0]['forks']}")
    five = next((c["wall"]["median"] for c in joins["cells"].values() if c["workers"] == 5), None)
    if five and 50 in joins["counts"]:
        wall_ax.plot([50], [5 * five], marker="_", markersize=22, markeredgewidth=2.5, color="red",
                     linestyle="none", label="goal at 50 workers: 5 × wall(5)")
    for ax, title in ((wall_ax, "ansible-playbook wall time"), (lat_ax, "per-host task latency (median)")):
        ax.set_xscale("log")
        ax.set_xticks(joins["counts"])
        ax.set_xticklabels([str(c) for c in joins["counts"]])
        ax.minorticks_off()
        ax.set_xlabel("workers (hosts)")
        ax.set_ylabel("seconds")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Worker joins through ansible-playbook (module TLS bootstrap; API double + etcd), {results['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
