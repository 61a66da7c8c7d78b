"""Every modelled tool family, imported so that its handlers register: the daemon's tool table.

Importing a family module runs its `@tool(...)` decorators, which fill `twin.tools.base.TOOLS`;
the daemon writes one shim per name in it.
"""

from __future__ import annotations

# imported for their @tool registrations
from twin.tools import apt, gst, kmod, microk8s, misc, snap, systemd, udevadm, v4l2ctl  # noqa: F401
from twin.tools.base import TOOLS, Handler


def load() -> dict[str, Handler]:
    """The handler of every modelled command, by name."""
    return TOOLS
