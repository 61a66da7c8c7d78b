"""systemd-run, systemctl, journalctl and reboot: feeder units and the node's boots.

Transient units (systemd-run) and units from files under /etc/systemd/system
(`twin.feeders.unitfiles`: daemon-reload, enable [--now], start, restart, is-enabled) run the
REAL gst-launch-1.0 through the feeder manager; `systemctl show` reports their state the way
systemd does (ActiveState, SubState, MainPID, Result, ExecStart).
"""

from __future__ import annotations

from twin.feeders import unitfiles
from twin.tools.base import Answer, Call, tool


def _unit_name(name: str) -> str:
    return name if "." in name else name + ".service"


@tool("systemd-run")
def systemd_run(daemon, call: Call) -> Answer:
    """systemd-run --unit=NAME [--collect] [-p X=Y] [--] COMMAND..."""
    argv, unit, command = list(call.argv), None, []
    while argv:
        arg = argv.pop(0)
        if arg == "--":
            command = argv
            break
        if arg.startswith("--unit="):
            unit = arg.split("=", 1)[1]
        elif arg in ("--unit", "-u", "-p", "--property", "--description"):
            value = argv.pop(0)
            unit = value if arg in ("--unit", "-u") else unit
        elif not arg.startswith("-"):
            command = [arg, *argv]
            break
    if not command:
        return Answer(1, "", "Command line to execute required.\n")
    unit = _unit_name(unit or "run-u1")
    program = command[0].rsplit("/", 1)[-1]
    if program != "gst-launch-1.0" or not daemon.node.installed("gstreamer1.0-tools"):
        return Answer(1, "", f"Failed to find executable {command[0]}: No such file or directory\n")
    with daemon.node.lock:
        current = daemon.feeders.get(unit)
        if current is not None and current.state in ("active", "activating"):
            return Answer(
                1,
                "",
                f"Failed to start transient service unit: Unit {unit} was "
                "already loaded or has a fragment file.\n",
            )
        daemon.feeders.start(unit, ["/usr/bin/gst-launch-1.0", *command[1:]])
    daemon.devices_changed()
    return Answer(0, "", f"Running as unit: {unit}; invocation ID: 5c1e0e2b7f7e4b0e\n")


def start_unit(daemon, unit: str) -> Answer:
    """Start a unit from its file (a running one stays); also what a boot does."""
    text = unitfiles.text_of(daemon.node, unit)
    argv = unitfiles.exec_start(text) if text is not None else None
    if argv is None:
        return Answer(5, "", f"Failed to start {unit}: Unit {unit} not found.\n")
    with daemon.node.lock:
        current = daemon.feeders.get(unit)
        if current is None or current.state not in ("active", "activating"):
            daemon.feeders.start(unit, argv)
    daemon.devices_changed()
    return Answer()


def _unit_files(daemon, verb: str, units: list[str], now: bool) -> Answer:
    """enable [--now], is-enabled, start and restart of units that have a file."""
    node, err = daemon.node, ""
    missing = [u for u in units if unitfiles.text_of(node, u) is None]
    if verb == "is-enabled":
        lines = ["enabled" if unitfiles.enabled(node, u) else "disabled" for u in units]
        if missing:
            return Answer(1, "", f"Failed to get unit file state for {missing[0]}: No such file\n")
        return Answer(0 if "disabled" not in lines else 1, "".join(x + "\n" for x in lines))
    if missing:
        return Answer(5 if verb != "enable" else 1, "", f"Unit {missing[0]} not found.\n")
    if verb == "enable":
        err = "".join(unitfiles.enable(node, u) for u in units)
    if verb == "restart":
        for unit in units:
            daemon.feeders.stop(unit)
    if verb in ("start", "restart") or now:
        for unit in units:
            answer = start_unit(daemon, unit)
            if answer.rc != 0:
                return answer
    return Answer(0, "", err)


def _show(daemon, units: list[str], props: list[str]) -> str:
    blocks = []
    for name in units:
        unit = _unit_name(name)
        feeder = daemon.feeders.get(unit)
        if feeder is None:
            values = {
                "Id": unit,
                "LoadState": "not-found",
                "ActiveState": "inactive",
                "SubState": "dead",
                "MainPID": "0",
                "Result": "success",
                "ExecMainStatus": "0",
                "ExecStart": "",
            }
        else:
            sub = {"active": "running", "activating": "start", "failed": "failed"}
            alive = feeder.state in ("active", "activating")
            argv = " ".join(feeder.argv)
            values = {
                "Id": unit,
                "LoadState": "loaded",
                "ActiveState": feeder.state,
                "SubState": sub.get(feeder.state, "dead"),
                "MainPID": str(feeder.pid if alive else 0),
                "Result": feeder.result,
                "ExecMainStatus": str(feeder.exit_status or 0),
                "ExecStart": f"{{ path={feeder.argv[0]} ; argv[]={argv} ; ignore_errors=no }}",
            }
        keys = props or list(values)
        blocks.append("".join(f"{k}={values.get(k, '')}\n" for k in keys))
    return "\n".join(blocks)


@tool("systemctl")
def systemctl(daemon, call: Call) -> Answer:
    """systemctl show|is-active|stop|reset-failed|reboot|restart|list-units"""
    argv = [a for a in call.argv if a not in ("--no-pager", "--quiet", "-q", "--no-block")]
    verb, rest = (argv[0], argv[1:]) if argv else ("list-units", [])
    props: list[str] = []
    units = []
    skip = False
    for i, arg in enumerate(rest):
        if skip:
            skip = False
        elif arg in ("-p", "--property"):
            props += rest[i + 1].split(",")
            skip = True
        elif arg.startswith("--property="):
            props += arg.split("=", 1)[1].split(",")
        elif not arg.startswith("-"):
            units.append(arg)
    if verb == "show":
        return Answer(0, _show(daemon, units, props))
    if verb == "is-active":
        states = [(daemon.feeders.get(_unit_name(u)) or None) for u in units]
        lines = [s.state if s else "inactive" for s in states]
        ok = all(line == "active" for line in lines)
        return Answer(0 if ok else 3, "".join(line + "\n" for line in lines))
    if verb == "stop":
        for unit in units:
            if daemon.feeders.get(_unit_name(unit)):
                daemon.feeders.stop(_unit_name(unit))
        daemon.devices_changed()
        return Answer()
    if verb in ("reset-failed", "daemon-reload"):
        return Answer()
    if verb in ("enable", "is-enabled") or (
        verb in ("start", "restart") and not any("microk8s" in u for u in units)
    ):
        return _unit_files(daemon, verb, [_unit_name(u) for u in units], "--now" in rest)
    if verb == "reboot":
        daemon.reboot()
        return Answer()
    if verb in ("restart", "start") and any("microk8s" in u for u in units):
        daemon.stop_microk8s()
        daemon.boot_microk8s()
        return Answer()
    if verb == "list-units":
        rows = [
            f"{f.unit} loaded {f.state} {'running' if f.state == 'active' else 'dead'} "
            f"{' '.join(f.argv)}"
            for f in daemon.feeders.units()
        ]
        return Answer(0, "".join(r + "\n" for r in rows))
    return Answer(1, "", f"Unknown command verb {verb}.\n")


@tool("journalctl")
def journalctl(daemon, call: Call) -> Answer:
    """journalctl -u UNIT [-n N] [--no-pager] [-b]"""
    argv = call.argv
    unit = None
    lines = 100
    for i, arg in enumerate(argv):
        if arg in ("-u", "--unit"):
            unit = _unit_name(argv[i + 1])
        elif arg.startswith("--unit="):
            unit = _unit_name(arg.split("=", 1)[1])
        elif arg in ("-n", "--lines"):
            lines = int(argv[i + 1])
    if unit and unit.startswith("snap.microk8s"):
        text = daemon.microk8s_journal()
        return Answer(0, "\n".join(text.splitlines()[-lines:]) + "\n")
    feeder = daemon.feeders.get(unit) if unit else None
    if feeder is None:
        return Answer(0, "-- No entries --\n")
    entries = list(feeder.log)[-lines:]
    return Answer(
        0,
        "".join(
            f"Nov 30 00:00:00 akri-edge-twin gst-launch-1.0[{feeder.pid}]: {line}\n"
            for line in entries
        ),
    )


@tool("reboot", "shutdown")
def reboot(daemon, call: Call) -> Answer:
    """reboot (shutdown -r now): the connection drops, the node comes back with a new boot id."""
    daemon.reboot()
    return Answer()
