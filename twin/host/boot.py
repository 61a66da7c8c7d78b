"""The node's boots: a reboot (a real disruption), the boot after it, and a hand deployment.

A reboot stops sshd (connections drop), the feeders and every other process of the node (its
PID namespace ends), the app and MicroK8s, and loses the node's volatile state; the boot comes
back after a modelled delay with a new PID namespace and boot id, loads v4l2loopback only if
it is persisted (modules-load.d, with modprobe.d's options), starts the enabled units (a
transient one is gone), restarts sshd on the same port and key, and starts MicroK8s again if
the snap is installed (docs/facts.md#persisted-across-reboot). Faults: `module-not-persisted`,
`feeders-not-persisted`.
"""

from __future__ import annotations

from twin.deployment import deploy
from twin.feeders import unitfiles
from twin.tools.kmod import load_v4l2loopback
from twin.tools.systemd import start_unit

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
        # module-not-persisted: systemd-modules-load.service is masked (as on minimal images),
        # so /etc/modules-load.d is not read at boot and nothing loads the module
        modules_load = "module-not-persisted" not in daemon.faults
        if persisted and modules_load and daemon.node.v4l2loopback_version():
            load_v4l2loopback(daemon, [])
    if "feeders-not-persisted" in daemon.faults:
        # a node that resets /etc/systemd/system at boot: the enabled feeder units are lost
        unitfiles.forget(daemon.node)
    for unit in unitfiles.enabled_units(daemon.node):  # after systemd-modules-load
        start_unit(daemon, unit)
    assert daemon.sshd is not None
    daemon.sshd.restart()
    if daemon.snap is not None:
        if daemon.cluster_started:
            # the kubelet reports the machine's boot id (NodeSystemInfo.bootID)
            daemon.cluster.reboot(boot_id=daemon.node.state.boot_id)
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
