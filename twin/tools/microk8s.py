"""microk8s: status, addons, kubeconfig, and the kubectl, helm3 and ctr it carries.

Formats follow docs/facts.md: `status --format yaml` prints Python-style booleans, the rbac addon
always reads as enabled (its check is the cluster-admin role), the real RBAC mode is in the
apiserver args file, dns is on by default since 1.27, dashboard is gone in 1.36, and `microk8s
config` carries an x509 client certificate. Enabling rbac restarts the apiserver, and `microk8s
enable` returns without waiting for it to come back (core-addons' rbac enable script), so MicroK8s
reads as not running for a moment. Faults: `privileged-not-allowed` (the args file lost
`--allow-privileged=true` before the rbac restart read it), `dns-disabled`.
"""

from __future__ import annotations

from twin.tools.base import Answer, Call, not_found, tool
from twin.tools.ctr import ctr
from twin.tools.snap import apiserver_args_path, channel_minor, preinstalled, start_apiserver

ADDONS = (
    "cert-manager",
    "dashboard",
    "dns",
    "ha-cluster",
    "helm",
    "helm3",
    "hostpath-storage",
    "ingress",
    "metrics-server",
    "rbac",
    "registry",
)
# how long the modelled apiserver restart keeps MicroK8s not ready (a real one takes seconds more;
# any window shows whether the suite waits for it)
APISERVER_RESTART_SECONDS = 0.5


def _restart_apiserver(daemon) -> None:
    """snapctl restart of the apiserver: not ready for a moment, then back with the new args."""
    start_apiserver(daemon)
    if not daemon.microk8s_ready.is_set():
        return  # not up: it reads the args when it comes up
    daemon.microk8s_ready.clear()

    def back() -> None:
        if daemon.cluster.is_running():  # unless MicroK8s was stopped meanwhile
            daemon.microk8s_ready.set()

    daemon.later(APISERVER_RESTART_SECONDS, back)


# helm commands that never talk to the cluster (they read the local repository cache)
HELM_OFFLINE = ("repo", "search", "show", "pull", "version", "env", "completion")
UNREACHABLE_URL = "https://127.0.0.1:16443"


def _helm_offline(verb: str, argv: list[str]) -> bool:
    return verb != "kubectl" and bool(argv) and argv[0] in HELM_OFFLINE


def _unreachable(verb: str, argv: list[str]) -> str:
    """What kubectl and helm print while the apiserver does not answer (its restart)."""
    if verb == "kubectl":
        return (
            "The connection to the server 127.0.0.1:16443 was refused - did you specify the "
            "right host or port?\n"
        )
    # helm's own wording, e.g. https://github.com/helm/helm/issues/11254
    failed = "INSTALLATION FAILED: " if argv[:1] == ["install"] else ""
    return (
        f'Error: {failed}Kubernetes cluster unreachable: Get "{UNREACHABLE_URL}/version": '
        "dial tcp 127.0.0.1:16443: connect: connection refused\n"
    )


def _status(daemon, argv: list[str]) -> Answer:
    timeout = 0.0
    if "--timeout" in argv:
        timeout = float(argv[argv.index("--timeout") + 1])
    if "--wait-ready" in argv:
        daemon.microk8s_ready.wait(timeout if timeout > 0 else 600)
    running = daemon.microk8s_ready.is_set()
    addons = daemon.addon_states()
    if "-a" in argv or "--addon" in argv:
        flag = "-a" if "-a" in argv else "--addon"
        return Answer(0, addons.get(argv[argv.index(flag) + 1], "disabled") + "\n")
    fmt = argv[argv.index("--format") + 1] if "--format" in argv else "pretty"
    if fmt == "yaml":
        if not running:
            return Answer(
                1 if "--wait-ready" in argv else 0,
                "microk8s:\n  running: False\n  message: microk8s is not running, try "
                "microk8s start\n",
            )
        body = "".join(
            f"  - name: {n}\n    repository: core\n    description: {n}\n"
            f"    version: ''\n    status: {s}\n"
            for n, s in addons.items()
        )
        return Answer(
            0,
            "microk8s:\n  running: True\nhigh-availability:\n  enabled: False\n"
            f"  nodes:\n  - address: 127.0.0.1:19001\n    role: voter\naddons:\n{body}",
        )
    if not running:
        return Answer(
            1 if "--wait-ready" in argv else 0,
            "microk8s is not running. Use microk8s inspect for a deeper inspection.\n",
        )
    lines = ["microk8s is running", "high-availability: no", "addons:", "  enabled:"]
    lines += [f"    {n:<20} # (core) {n}" for n, s in addons.items() if s == "enabled"]
    lines += ["  disabled:"] + [
        f"    {n:<20} # (core) {n}" for n, s in addons.items() if s == "disabled"
    ]
    return Answer(0, "\n".join(lines) + "\n")


def _enable(daemon, names: list[str]) -> Answer:
    out = []
    for name in names:
        if name == "dashboard" and channel_minor(daemon.snap["channel"]) >= 36:
            return Answer(1, "\n".join(out), "Addon dashboard was not found in any repository\n")
        if name not in ADDONS:
            return Answer(1, "\n".join(out), f"Addon {name} was not found in any repository\n")
        if name in ("helm", "helm3"):
            out.append("Addon core/helm3 is already enabled")
            continue
        if name == "rbac":
            path = apiserver_args_path(daemon)
            args = daemon.node.var(path) or ""
            new = args.replace("--authorization-mode=AlwaysAllow", "--authorization-mode=RBAC,Node")
            if "privileged-not-allowed" in daemon.faults:
                # the fault: something on the node (a hardening script, configuration
                # management) rewrote the args file without --allow-privileged=true after
                # MicroK8s first started; this restart is the first to read it
                new = new.replace("--allow-privileged=true\n", "")
            daemon.node.var(path, new)
            out += ["Enabling RBAC", "Reconfiguring apiserver"]
            if new != args:  # the script restarts the apiserver only when the args changed
                out.append("Restarting apiserver")
                _restart_apiserver(daemon)
            out.append("RBAC is enabled")
            continue
        out.append(f"Infer repository core for addon {name}")
        if name == "dns" and "dns-disabled" in daemon.faults:
            out.append("Enabling DNS")
            continue
        daemon.enable_addon(name)
        out.append(f"Addon {name} is enabled" if name != "dns" else "DNS is enabled")
    return Answer(0, "\n".join(out) + "\n")


@tool("microk8s")
def microk8s(daemon, call: Call) -> Answer:
    """microk8s status|enable|config|kubectl|helm3|ctr|inspect|start|stop|version"""
    with daemon.node.lock:
        preinstalled(daemon)
    if daemon.snap is None:
        return not_found("microk8s")
    argv = call.argv
    verb, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if verb == "status":
        return _status(daemon, rest)
    if verb == "enable":
        with daemon.node.lock:
            return _enable(daemon, rest)
    if verb == "config":
        return Answer(0, daemon.kubeconfig())
    if verb in ("kubectl", "helm", "helm3"):
        if not daemon.microk8s_ready.is_set() and not _helm_offline(verb, rest):
            return Answer(1, "", _unreachable(verb, rest))
        runner = daemon.kubectl if verb == "kubectl" else daemon.helm
        rc, out, err = runner.run(rest, call.stdin)
        return Answer(rc, out, err)
    if verb == "inspect":
        revision = daemon.snap["revision"]
        return Answer(
            0,
            "Inspecting services\n  Service snap.microk8s.daemon-kubelite is "
            f"{'running' if daemon.microk8s_ready.is_set() else 'inactive'}\n"
            "Building the report tarball\n  Report tarball is at /var/snap/microk8s/"
            f"{revision}/inspection-report-20261130_000000.tar.gz\n",
        )
    if verb == "ctr":
        return ctr(rest, daemon.faults, daemon.microk8s_ready.is_set())
    if verb == "version":
        return Answer(0, f"MicroK8s {daemon.snap['version']} revision {daemon.snap['revision']}\n")
    if verb in ("start", "stop"):
        daemon.boot_microk8s() if verb == "start" else daemon.stop_microk8s()
        return Answer()
    return Answer(1, "", f"'{verb}' is not a valid MicroK8s subcommand.\n")
