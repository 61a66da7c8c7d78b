"""snap and microk8s: the MicroK8s snap, its status, addons, kubeconfig, kubectl and helm3.

Formats follow docs/facts.md: `status --format yaml` prints Python-style booleans, the rbac addon
always reads as enabled (its check is the cluster-admin role), the real RBAC mode is in the
apiserver args file, dns is on by default since 1.27, dashboard is gone in 1.36, and `microk8s
config` carries an x509 client certificate. The apiserver reads its args file at start:
`--allow-privileged=true` decides if it admits privileged pods (docs/facts.md#allow-privileged).
Enabling rbac restarts it, and `microk8s enable` returns without waiting for it to come back
(core-addons' rbac enable script), so MicroK8s reads as not running for a moment. The install hook
links `/var/lib/kubelet` into the snap only if it did not exist (docs/facts.md#kubelet-directory).
Faults: `kubelet-dir-not-linked` (the node already had a /var/lib/kubelet directory),
`privileged-not-allowed` (the args file lost `--allow-privileged=true` before the rbac restart read
it), `microk8s-other-track` (MicroK8s 1.33/stable was on the node before the run).
"""

from __future__ import annotations

import re

from twin import images
from twin.tools import Answer, Call, not_found, tool

CHANNELS = {
    "1.32": ("v1.32.9", 7964),
    "1.33": ("v1.33.6", 8205),
    "1.34": ("v1.34.2", 8391),
    "1.35": ("v1.35.1", 8502),
    "1.36": ("v1.36.0", 8600),
}
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
APISERVER_ARGS = """--cert-dir=${SNAP_DATA}/certs
--service-cluster-ip-range=10.152.183.0/24
--authorization-mode=AlwaysAllow
--service-account-key-file=${SNAP_DATA}/certs/serviceaccount.key
--client-ca-file=${SNAP_DATA}/certs/ca.crt
--secure-port=16443
--etcd-servers=unix://${SNAP_DATA}/var/kubernetes/backend/kine.sock:12379
--allow-privileged=true
--kubelet-preferred-address-types=InternalIP,Hostname,InternalDNS,ExternalDNS,ExternalIP
"""
KUBELET_ROOT = "snap/microk8s/common/var/lib/kubelet"
# how long the modelled apiserver restart keeps MicroK8s not ready (a real one takes seconds more;
# any window shows whether the suite waits for it)
APISERVER_RESTART_SECONDS = 0.5
PREINSTALLED_CHANNEL = "1.33/stable"  # the `microk8s-other-track` fault


def channel_minor(channel: str) -> int:
    """36 for "1.36/stable" and for "latest/stable" (the newest track)."""
    track = channel.split("/")[0]
    return 36 if track == "latest" else int(track.split(".")[1])


def _apiserver_args_path(daemon) -> str:
    return f"snap/microk8s/{daemon.snap['revision']}/args/kube-apiserver"


def _start_apiserver(daemon) -> None:
    """The apiserver (re)reads its args file; admission follows (docs/facts.md#allow-privileged)."""
    flags = (daemon.node.var(_apiserver_args_path(daemon)) or "").split()
    allowed = "--allow-privileged=true" in flags or "--allow-privileged" in flags  # a bare flag
    daemon.store.policy.allow_privileged = allowed


def _restart_apiserver(daemon) -> None:
    """snapctl restart of the apiserver: not ready for a moment, then back with the new args."""
    _start_apiserver(daemon)
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


def _preinstalled(daemon) -> None:
    """With `microk8s-other-track`: MicroK8s from another track was there before the run.

    Installed at the first snap or microk8s command: the first moment anything observes it.
    """
    if "microk8s-other-track" in daemon.faults and daemon.snap is None:
        _snap_install(daemon, [f"--channel={PREINSTALLED_CHANNEL}"])


def _snap_install(daemon, argv: list[str]) -> Answer:
    channel = next(
        (a.split("=", 1)[1] for a in argv if a.startswith("--channel=")), "latest/stable"
    )
    if daemon.snap is not None:
        return Answer(0, "", "snap \"microk8s\" is already installed, see 'snap help refresh'\n")
    track = channel.split("/")[0]
    key = "1.36" if track == "latest" else track
    if key not in CHANNELS or not re.fullmatch(r"[^/]+/(stable|candidate|beta|edge)", channel):
        return Answer(
            1, "", f'error: requested a non-existing branch on {channel} for snap "microk8s"\n'
        )
    version, revision = CHANNELS[key]
    daemon.snap = {"channel": channel, "version": version, "revision": revision, "held": False}
    node = daemon.node
    node.var(f"snap/microk8s/{revision}/args/kube-apiserver", APISERVER_ARGS)
    node.var(
        f"snap/microk8s/{revision}/args/kubelet",
        "--root-dir=${SNAP_COMMON}/var/lib/kubelet\n--cluster-dns=10.152.183.10\n",
    )
    current = node.var_path("snap/microk8s/current")
    current.parent.mkdir(parents=True, exist_ok=True)
    current.symlink_to(str(revision))
    node.var_path(KUBELET_ROOT).mkdir(parents=True, exist_ok=True)
    kubelet = node.var_path("lib/kubelet")
    if "kubelet-dir-not-linked" in daemon.faults:
        # the fault: a /var/lib/kubelet directory was already there (an earlier kubeadm or k3s
        # install left it), so the install hook leaves it alone (docs/facts.md#kubelet-directory)
        kubelet.mkdir(parents=True, exist_ok=True)
    if not kubelet.exists() and not kubelet.is_symlink():
        kubelet.parent.mkdir(parents=True, exist_ok=True)
        kubelet.symlink_to("/var/" + KUBELET_ROOT)
    group = node.etc("group") or ""
    if not re.search(r"^microk8s:", group, re.M):
        node.etc("group", group + "microk8s:x:998:\n")
    _start_apiserver(daemon)
    daemon.boot_microk8s()
    return Answer(0, f"microk8s ({channel}) {version} from Canonical\u2713 installed\n")


@tool("snap")
def snap(daemon, call: Call) -> Answer:
    """snap list|install|refresh|changes|version"""
    argv = call.argv
    verb = argv[0] if argv else "help"
    with daemon.node.lock:
        _preinstalled(daemon)
        if verb == "list":
            if daemon.snap is None:
                if len(argv) > 1:
                    return Answer(1, "", "error: no matching snaps installed\n")
                return Answer(0, "No snaps are installed yet.\n")
            s = daemon.snap
            notes = "classic,held" if s["held"] else "classic"
            return Answer(
                0,
                "Name      Version  Rev   Tracking     Publisher   Notes\n"
                f"microk8s  {s['version']}  {s['revision']}  {s['channel']}  "
                f"canonical\u2713  {notes}\n",
            )
        if verb == "install" and "microk8s" in argv:
            return _snap_install(daemon, argv)
        if verb == "refresh" and "microk8s" in argv:
            if daemon.snap is None:
                return Answer(1, "", 'error: snap "microk8s" is not installed\n')
            if "--hold" in argv or any(a.startswith("--hold=") for a in argv):
                daemon.snap["held"] = True
                return Answer(0, 'General refreshes of "microk8s" held indefinitely\n')
            if "--unhold" in argv:
                daemon.snap["held"] = False
                return Answer(0, 'Removed general refresh hold of "microk8s"\n')
            for a in argv:
                if a.startswith("--channel="):
                    daemon.snap["channel"] = a.split("=", 1)[1]
            return Answer(0, f"microk8s ({daemon.snap['channel']}) refreshed\n")
        if verb == "changes":
            return Answer(0, "ID   Status  Spawn  Ready  Summary\n")
        if verb == "version":
            return Answer(0, "snap    2.66.1\nsnapd   2.66.1\nseries  16\nubuntu  24.04\n")
    return Answer(1, "", f"error: unknown command \"{verb}\", see 'snap help'.\n")


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
            path = _apiserver_args_path(daemon)
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
        _preinstalled(daemon)
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
        return images.ctr(rest, daemon.faults, daemon.microk8s_ready.is_set())
    if verb == "version":
        return Answer(0, f"MicroK8s {daemon.snap['version']} revision {daemon.snap['revision']}\n")
    if verb in ("start", "stop"):
        daemon.boot_microk8s() if verb == "start" else daemon.stop_microk8s()
        return Answer()
    return Answer(1, "", f"'{verb}' is not a valid MicroK8s subcommand.\n")
