"""Small tools: sudo, uname, hostname, usermod.

`sudo` runs the command as is (the twin's SSH user is root).
"""

from __future__ import annotations

import re

from twin.machine.node import HOSTNAME
from twin.tools.base import Answer, Call, tool


@tool("sudo")
def sudo(daemon, call: Call) -> Answer:
    """sudo [-n] [-E] [-u root] COMMAND...: root already, so exec the command."""
    argv = list(call.argv)
    while argv and argv[0].startswith("-"):
        flag = argv.pop(0)
        if flag in ("-u", "-g"):
            argv.pop(0)
    if not argv:
        return Answer(1, "", "usage: sudo -h | -K | -k | -V\n")
    return Answer(exec=["/usr/bin/env", *argv])


@tool("uname")
def uname(daemon, call: Call) -> Answer:
    """uname [-r|-a|-m|-n|-s]"""
    kernel = daemon.node.state.kernel
    parts = {
        "-s": "Linux",
        "-n": HOSTNAME,
        "-r": kernel,
        "-v": "#19-Ubuntu SMP",
        "-m": "x86_64",
        "-o": "GNU/Linux",
    }
    if "-a" in call.argv:
        return Answer(0, " ".join(parts.values()) + "\n")
    flags = [a for a in call.argv if a in parts] or ["-s"]
    return Answer(0, " ".join(parts[f] for f in flags) + "\n")


@tool("hostname")
def hostname(daemon, call: Call) -> Answer:
    """hostname"""
    return Answer(0, HOSTNAME + "\n")


@tool("usermod")
def usermod(daemon, call: Call) -> Answer:
    """usermod -a -G GROUP USER (edits the node's /etc/group)."""
    argv = call.argv
    if "-G" not in argv or not argv:
        return Answer(2, "", "Usage: usermod [options] LOGIN\n")
    group, user = argv[argv.index("-G") + 1], argv[-1]
    with daemon.node.lock:
        text = daemon.node.etc("group") or ""
        match = re.search(rf"^{re.escape(group)}:[^:]*:[^:]*:(.*)$", text, re.M)
        if match is None:
            return Answer(6, "", f"usermod: group '{group}' does not exist\n")
        members = [m for m in match.group(1).split(",") if m]
        if user not in members:
            members.append(user)
        line = match.group(0)[: match.start(1) - match.start(0)] + ",".join(members)
        daemon.node.etc("group", text[: match.start()] + line + text[match.end() :])
    return Answer()
