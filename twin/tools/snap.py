"""snap: the MicroK8s snap, its install, channels, refresh holds; `twin.tools.microk8s` runs it.

The install writes the apiserver and kubelet args files of the revision (the real RBAC mode is in
the apiserver's, docs/facts.md#allow-privileged), adds the `microk8s` group and starts MicroK8s.
The apiserver reads its args file at start: `--allow-privileged=true` decides if it admits
privileged pods. The install hook links `/var/lib/kubelet` into the snap only if it did not exist
(docs/facts.md#kubelet-directory). Faults: `kubelet-dir-not-linked` (the node already had a
/var/lib/kubelet directory), `microk8s-other-track` (MicroK8s 1.33/stable was on the node before
the run).
"""

from __future__ import annotations

import re

from twin.tools.base import Answer, Call, tool

CHANNELS = {
    "1.32": ("v1.32.9", 7964),
    "1.33": ("v1.33.6", 8205),
    "1.34": ("v1.34.2", 8391),
    "1.35": ("v1.35.1", 8502),
    "1.36": ("v1.36.0", 8600),
}
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
PREINSTALLED_CHANNEL = "1.33/stable"  # the `microk8s-other-track` fault


def channel_minor(channel: str) -> int:
    """36 for "1.36/stable" and for "latest/stable" (the newest track)."""
    track = channel.split("/")[0]
    return 36 if track == "latest" else int(track.split(".")[1])


def apiserver_args_path(daemon) -> str:
    """The installed revision's kube-apiserver args file, under the node's /var."""
    return f"snap/microk8s/{daemon.snap['revision']}/args/kube-apiserver"


def start_apiserver(daemon) -> None:
    """The apiserver (re)reads its args file; admission follows (docs/facts.md#allow-privileged)."""
    flags = (daemon.node.var(apiserver_args_path(daemon)) or "").split()
    allowed = "--allow-privileged=true" in flags or "--allow-privileged" in flags  # a bare flag
    daemon.store.policy.allow_privileged = allowed


def preinstalled(daemon) -> None:
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
    start_apiserver(daemon)
    daemon.boot_microk8s()
    return Answer(0, f"microk8s ({channel}) {version} from Canonical\u2713 installed\n")


@tool("snap")
def snap(daemon, call: Call) -> Answer:
    """snap list|install|refresh|changes|version"""
    argv = call.argv
    verb = argv[0] if argv else "help"
    with daemon.node.lock:
        preinstalled(daemon)
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
            ubuntu = daemon.node.platform.version_id
            return Answer(0, f"snap    2.66.1\nsnapd   2.66.1\nseries  16\nubuntu  {ubuntu}\n")
    return Answer(1, "", f"error: unknown command \"{verb}\", see 'snap help'.\n")
