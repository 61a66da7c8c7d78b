"""Layer 1, target: the edge node answers over its transport, and says what it is."""

import pytest

from fixtures.node import parsers
from fixtures.node.facts import gather

pytestmark = [pytest.mark.akri, pytest.mark.target, pytest.mark.order(10)]


def test_target_reachable(node, settings, versions):
    """The node answers within --ssh-timeout; its kernel, OS and boot id are recorded."""
    try:
        seconds = node.connect()
    except Exception as exc:
        pytest.fail(
            f"{node.target.description} did not answer within {settings.ssh_timeout:.0f}s "
            f"(--ssh-timeout): {exc}",
            pytrace=False,
        )
    facts = gather(
        node.host,
        {
            "kernel": "uname -r",
            "os": "cat /etc/os-release",
            "boot_id": "cat /proc/sys/kernel/random/boot_id",
        },
        sudo=False,
    )
    os_release = parsers.os_release(facts.out("os"))
    versions["kernel"] = facts.out("kernel").strip()
    versions["os"] = os_release.get("PRETTY_NAME", "unknown")
    versions["ssh_connect_seconds"] = f"{seconds:.2f}"
    assert facts.out("boot_id").strip(), f"no boot id on the node:\n{facts.quote('boot_id')}"
