"""Kernel-module tools: modprobe, rmmod, lsmod, modinfo, dmesg, dkms (v4l2-ctl: `v4l2ctl`).

Output formats follow what docs/facts.md recorded on a real Debian host with 0.12.7: 0.12.x
declares no MODULE_VERSION (modinfo has no version line, no /sys/module/.../version), the kernel
log announces the version at load, with a hyphen from 0.14 on 26.04's 0.15.3
(docs/facts.md#v4l2loopback-version-source), array parameters print all 8 slots
(docs/facts.md#exclusive-caps-per-device).
"""

from __future__ import annotations

import shutil

from twin.machine.node import MAX_DEVICES, LoadedModule
from twin.tools.base import Answer, Call, not_found, tool

MODINFO_PARMS = """\
parm:           debug:debug level (0-3) (int)
parm:           max_buffers:how many buffers should be allocated [DEFAULT: 2] (int)
parm:           max_openers:how many users can open the loopback device [DEFAULT: 10] (int)
parm:           devices:how many devices should be created (int)
parm:           video_nr:video device numbers (-1=auto, 0=/dev/video0, etc.) (array of int)
parm:           card_label:card labels for each device (array of charp)
parm:           exclusive_caps:whether to announce OUTPUT/CAPTURE capabilities exclusively \
or not (array of bool)
parm:           max_width:maximum allowed frame width [DEFAULT: 8192] (int)
parm:           max_height:maximum allowed frame height [DEFAULT: 8192] (int)
"""


def _split(value: str) -> list[str]:
    return [v.strip().strip('"') for v in value.strip('"').split(",")] if value else []


def _as_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "y", "yes", "true", "on")


def _module_options(daemon, argv: list[str]) -> dict[str, str]:
    """Options from /etc/modprobe.d plus the command line (the command line wins)."""
    options: dict[str, str] = {}
    for _name, text in daemon.node.etc_dir("modprobe.d"):
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "options" and words[1] == "v4l2loopback":
                options.update(w.split("=", 1) for w in words[2:] if "=" in w)
    options.update(a.split("=", 1) for a in argv if "=" in a)
    return options


def _install_command(daemon) -> str | None:
    """An `install v4l2loopback CMD` line of /etc/modprobe.d: modprobe runs CMD instead."""
    for _name, text in daemon.node.etc_dir("modprobe.d"):
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 3 and words[:2] == ["install", "v4l2loopback"]:
                return " ".join(words[2:])
    return None


def load_v4l2loopback(daemon, argv: list[str]) -> Answer:
    """Load the module with its parameters and create its devices (also used at boot)."""
    node = daemon.node
    state = node.state
    replaced = _install_command(daemon)
    if replaced is not None:
        # how admins disable a module (modprobe.d(5)): `/bin/true` "loads" it with exit 0
        program = replaced.split()[0].rsplit("/", 1)[-1]
        if program not in ("true", "false"):
            return Answer(
                1, "", f"modprobe: the twin models install commands true/false only: {replaced}\n"
            )
        return Answer(0 if program == "true" else 1)
    version = node.v4l2loopback_version()
    if version is None:
        return Answer(
            1,
            "",
            f"modprobe: FATAL: Module v4l2loopback not found in directory "
            f"/lib/modules/{state.kernel}\n",
        )
    if not node.videodev_available():
        node.log_kernel("v4l2loopback: Unknown symbol video_ioctl2 (err -2)")
        node.log_kernel("v4l2loopback: Unknown symbol video_devdata (err -2)")
        return Answer(
            1,
            "",
            "modprobe: ERROR: could not insert 'v4l2loopback': Unknown symbol "
            "in module, or unknown parameter (see dmesg)\n",
        )
    if state.module is not None:
        return Answer()
    if "secure-boot" in daemon.faults:
        # Secure Boot on: DKMS signed the module with its own key, which is not enrolled
        # (docs/facts.md#secure-boot)
        return Answer(
            1, "", "modprobe: ERROR: could not insert 'v4l2loopback': Key was rejected by service\n"
        )
    options = _module_options(daemon, argv)
    numbers = [int(n) for n in _split(options.get("video_nr", ""))]
    count = int(options.get("devices", len(numbers) or 1))
    if count > MAX_DEVICES:
        node.log_kernel(f"v4l2loopback: number of devices is limited to: {MAX_DEVICES}")
        count = MAX_DEVICES
    labels = _split(options.get("card_label", ""))
    caps = [_as_bool(v) for v in _split(options.get("exclusive_caps", ""))]
    state.videodev_loaded = True
    node.log_kernel("loading out-of-tree module taints kernel.")
    node.log_kernel(
        "v4l2loopback: module verification failed: signature and/or required key "
        "missing - tainting kernel"
    )
    hyphenated = tuple(int(p) for p in version.split(".")[:2]) >= (0, 14)
    marker = "v4l2-loopback" if hyphenated else "v4l2loopback"
    node.log_kernel(f"{marker} driver version {version} loaded")
    used: list[int] = []
    created = 1 if "one-device" in daemon.faults else count
    for i in range(created):
        wanted = numbers[i] if i < len(numbers) and numbers[i] >= 0 else None
        number = wanted if wanted is not None else next(n for n in range(64) if n not in used)
        used.append(number)
        label = labels[i] if i < len(labels) else f"Dummy video device (0x{i:04X})"
        node.create_device(number, i, label)
    state.module = LoadedModule(
        version=version,
        video_nr=(numbers + [-1] * MAX_DEVICES)[:MAX_DEVICES],
        exclusive_caps=(caps + [False] * MAX_DEVICES)[:MAX_DEVICES],
        card_label=labels,
    )
    _write_sysfs_module(node, state.module)
    daemon.devices_changed()
    return Answer()


def _write_sysfs_module(node, module: LoadedModule | None) -> None:
    base = node.root / "sys/module"
    if module is None:
        shutil.rmtree(base / "v4l2loopback", ignore_errors=True)
        return
    params = base / "v4l2loopback/parameters"
    params.mkdir(parents=True, exist_ok=True)
    (base / "videodev").mkdir(exist_ok=True)
    (params / "video_nr").write_text(",".join(str(n) for n in module.video_nr) + "\n")
    (params / "exclusive_caps").write_text(
        ",".join("Y" if c else "N" for c in module.exclusive_caps) + "\n"
    )
    (params / "max_buffers").write_text("2\n")
    (params / "max_openers").write_text("10\n")
    (params / "debug").write_text("0\n")
    if not module.version.startswith("0.12"):
        (base / "v4l2loopback/version").write_text(module.version + "\n")


def unload_v4l2loopback(daemon) -> Answer:
    """modprobe -r: refused while a feeder or a capturing broker holds a device open."""
    node = daemon.node
    if node.state.module is None:
        return Answer()
    if daemon.devices_in_use() & set(node.state.devices):
        return Answer(1, "", "modprobe: FATAL: Module v4l2loopback is in use.\n")
    for devnode in node.remove_devices():
        daemon.feeders.device_gone(devnode)
    node.state.module = None
    _write_sysfs_module(node, None)
    daemon.devices_changed()
    return Answer()


@tool("modprobe")
def modprobe(daemon, call: Call) -> Answer:
    """modprobe [-r] MODULE [param=value ...]"""
    args = [a for a in call.argv if not a.startswith("-")]
    remove = "-r" in call.argv or "--remove" in call.argv
    if not args:
        return Answer(1, "", "modprobe: ERROR: missing parameters. See -h.\n")
    with daemon.node.lock:
        if args[0] == "videodev":
            if not daemon.node.videodev_available():
                return Answer(
                    1,
                    "",
                    f"modprobe: FATAL: Module videodev not found in directory "
                    f"/lib/modules/{daemon.node.state.kernel}\n",
                )
            daemon.node.state.videodev_loaded = not remove
            return Answer()
        if args[0] != "v4l2loopback":
            return Answer(1, "", f"modprobe: FATAL: Module {args[0]} not found.\n")
        return unload_v4l2loopback(daemon) if remove else load_v4l2loopback(daemon, args[1:])


@tool("rmmod")
def rmmod(daemon, call: Call) -> Answer:
    """rmmod v4l2loopback"""
    with daemon.node.lock:
        if daemon.node.state.module is None:
            return Answer(1, "", "rmmod: ERROR: Module v4l2loopback is not currently loaded\n")
        return unload_v4l2loopback(daemon)


@tool("lsmod")
def lsmod(daemon, call: Call) -> Answer:
    """lsmod in the kernel's format."""
    state = daemon.node.state
    lines = ["Module                  Size  Used by"]
    if state.module is not None:
        users = len(daemon.feeders.running())
        lines.append(f"{'v4l2loopback':<24}{45056:>6}  {users}")
    if state.videodev_loaded:
        users = "1 v4l2loopback" if state.module is not None else "0"
        lines.append(f"{'videodev':<24}{294912:>6}  {users}")
        lines.append(f"{'mc':<24}{{:>6}}  1 videodev".format(81920))
    lines.append(f"{'overlay':<24}{196608:>6}  0")
    return Answer(0, "\n".join(lines) + "\n")


@tool("modinfo")
def modinfo(daemon, call: Call) -> Answer:
    """modinfo [-F field] MODULE"""
    node = daemon.node
    argv = list(call.argv)
    field = None
    if "-n" in argv or "--filename" in argv:
        argv = [a for a in argv if a not in ("-n", "--filename")]
        field = "filename"
    if "-F" in argv:
        field = argv[argv.index("-F") + 1]
        del argv[argv.index("-F") : argv.index("-F") + 2]
    name = argv[-1] if argv else ""
    kernel = node.state.kernel
    if name == "videodev" and node.videodev_available():
        info = {
            "filename": f"/lib/modules/{kernel}/kernel/drivers/media/v4l2-core/videodev.ko.zst",
            "license": "GPL",
            "depends": "mc",
            "vermagic": f"{kernel} SMP mod_unload",
        }
    elif name == "v4l2loopback" and node.v4l2loopback_version():
        version = node.v4l2loopback_version() or ""
        info = {
            "filename": f"/lib/modules/{kernel}/updates/dkms/v4l2loopback.ko.zst",
            "license": "GPL",
            "description": "V4L2 loopback video device",
            "depends": "videodev",
            "vermagic": f"{kernel} SMP mod_unload",
        }
        if not version.startswith("0.12"):
            info["version"] = version
    else:
        return Answer(1, "", f"modinfo: ERROR: Module {name} not found.\n")
    if field:
        return Answer(0, info.get(field, "") + ("\n" if field in info else ""))
    text = "".join(f"{k + ':':<16}{v}\n" for k, v in info.items())
    return Answer(0, text + (MODINFO_PARMS if name == "v4l2loopback" else ""))


@tool("dmesg")
def dmesg(daemon, call: Call) -> Answer:
    """dmesg with [seconds] timestamps."""
    lines = [f"[{t:12.6f}] {line}" for t, line in daemon.node.state.dmesg]
    return Answer(0, "".join(line + "\n" for line in lines))


@tool("dkms")
def dkms(daemon, call: Call) -> Answer:
    """dkms status [module]"""
    if not daemon.node.installed("dkms"):
        return not_found("dkms")
    if call.argv[:1] != ["status"]:
        return Answer(0, "")
    version = daemon.node.v4l2loopback_version()
    if not version:
        return Answer(0, "")
    lines = [f"v4l2loopback/{version}, {k}, x86_64: installed" for k in daemon.node.state.kernels]
    return Answer(0, "".join(line + "\n" for line in lines))
