"""The node's boots: a reboot (a real disruption), the boot after it, and a hand deployment.

A reboot stops sshd (connections drop), the feeders and every other process of the node (its
PID namespace ends), the app and MicroK8s, and loses the node's volatile state; the boot comes
back after a modelled delay with a new PID namespace and boot id, loads v4l2loopback only if
it is persisted (modules-load.d), restarts sshd on the same port and key, and starts MicroK8s
again if the snap is installed.
"""

from __future__ import annotations

from twin.deployment import deploy
from twin.tools.kmod import load_v4l2loopback

BOOT_SECONDS = 1.0


def shut_down(daemon) -> None:
    """Everything volatile goes; the boot follows after BOOT_SECONDS."""
    assert daemon.sshd is not None
    daemon.booted.clear()
    daemon.sshd.stop()
    daemon.feeders.stop_all()
    daemon.procs.halt()
    daemon.app.stop_server()
    daemon.stop_microk8s()
    daemon.node.new_boot()
    daemon.devices_changed()
    daemon.later(BOOT_SECONDS, lambda: boot(daemon))


def boot(daemon) -> None:
    """The node comes back with what it persisted."""
    daemon.procs.boot()
    with daemon.node.lock:
        persisted = any(
            "v4l2loopback" in text.split() for _n, text in daemon.node.etc_dir("modules-load.d")
        )
        if persisted and daemon.node.v4l2loopback_version():
            load_v4l2loopback(daemon, [])
    assert daemon.sshd is not None
    daemon.sshd.restart()
    if daemon.snap is not None:
        if daemon.cluster_started:
            daemon.cluster.reboot()
        daemon.boot_microk8s()
    daemon.booted.set()


def deploy_by_hand(daemon) -> None:
    """Deploy as the Akri documentation does; with `deployed-node-rebooted`, then reboot."""
    (daemon.dir / "deployment.log").write_text(deploy(daemon.dir, daemon.spec, daemon.faults))
    if "deployed-node-rebooted" in daemon.faults:
        # nothing of a hand deployment is persisted but packages and the snap (after a reboot
        # the module and the feeders are gone: docs/facts.md#reboot)
        shut_down(daemon)
        daemon.booted.wait(BOOT_SECONDS + 30)
