"""udevadm: the udev database entry of a device, from the same properties Akri's rules match.

Only `udevadm info --query=property --name=DEV` (and its short forms) is modelled; anything
else fails loudly, so a check that needs more says so instead of reading made-up output.
"""

from __future__ import annotations

from twin.machine.udev import udev_properties
from twin.tools.base import Answer, Call, tool


def _not_modelled(what: str) -> Answer:
    return Answer(2, "", f"udevadm: {what} is not modelled by the twin\n")


@tool("udevadm")
def udevadm(daemon, call: Call) -> Answer:
    """udevadm info --query=property --name=/dev/videoN (-q property -n DEV; DEV as argument)."""
    argv = list(call.argv)
    if argv[:1] != ["info"]:
        return _not_modelled(f"'udevadm {' '.join(argv[:1])}'")
    query, name, rest = None, None, argv[1:]
    while rest:
        arg = rest.pop(0)
        if arg in ("-q", "--query", "-n", "--name") and rest:
            value = rest.pop(0)
            query, name = (value, name) if arg in ("-q", "--query") else (query, value)
        elif arg.startswith("--query="):
            query = arg.split("=", 1)[1]
        elif arg.startswith("--name="):
            name = arg.split("=", 1)[1]
        elif not arg.startswith("-") and name is None:
            name = arg
        else:
            return _not_modelled(f"option {arg}")
    if query != "property":
        return _not_modelled(f"--query={query or '(all)'}")
    devnode = name if (name or "").startswith("/dev/") else f"/dev/{name}"
    device = next((d for d in daemon.udev_devices() if d.devnode == devnode), None)
    if device is None:
        # systemd's message; its exit code for an unknown device is not in the facts
        return Answer(4, "", f'Unknown device "{name}": No such device\n')
    return Answer(0, "".join(f"{k}={v}\n" for k, v in udev_properties(device).items()))
