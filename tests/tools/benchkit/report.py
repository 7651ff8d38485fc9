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
    lab = results.get("lab") or {"status": "not measured"}
    lines += ["### Lab (podman nodes)", ""]
    if lab.get("status") == "measured":
        for name, spread in lab["series"].items():
            lines.append(f"- {name}: {_s(spread)}")
    else:
        lines.append(f"Not measured: {lab.get('reason', 'run `make bench BENCH_ARGS=--lab`')}.")
    lines += ["", "### Goals", "", "| goal | measured (median ratio) | met |", "|---|---|---|"]
    for goal in goal_list:
        lines.append(f"| {goal['text']} | {goal['measured']:.2f}× | {'yes' if goal['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


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
