"""The twin's node: kernel, packages, the v4l2loopback module and its devices, boot identity.

State that a real node keeps on disk (installed packages, /etc, /var) survives a reboot; state
that lives in the kernel or in RAM (loaded module, /dev/video*, /run, the kernel log, running
feeders) does not. Files the suite reads with ordinary tools (`cat /sys/...`, `stat /dev/...`,
`readlink /var/lib/kubelet`) are real files under the twin's root, laid over the real paths by
`twin.shell` in each SSH session's mount namespace.
"""

from __future__ import annotations

import grp
import os
import shutil
import stat
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from twin.machine.frames import DeviceFrames
from twin.machine.platform import DEFAULT_PLATFORM, PLATFORMS, Platform

HOSTNAME = "akri-edge-twin"
V4L2_MAJOR = 81
MAX_DEVICES = 8
DEV_NODES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9)}


def _video_gid() -> int:
    """The `video` group of the node's /etc/group (the machine's, under the node's overlay)."""
    try:
        return grp.getgrnam("video").gr_gid
    except KeyError:
        return 44  # Debian and Ubuntu's static gid for video (base-passwd)


class SysfsDevice(DeviceFrames):
    """A device buffer that writes its sysfs `format` file when a producer sets the format.

    From 0.13 the device also has a `state` attribute: `output` until a producer attaches,
    `capture` once it writes (docs/facts.md#ubuntu-2604).
    """

    def __init__(self, devnode: str, format_file: Path, has_state: bool = False) -> None:
        super().__init__(devnode)
        self.format_file = format_file
        self.state_file = format_file.parent / "state" if has_state else None
        if self.state_file is not None:
            self.state_file.write_text("output\n")

    def publish(self, jpeg: bytes) -> None:
        """Store the frame; the first one sets the format, as v4l2loopback does."""
        before = self.format
        super().publish(jpeg)
        if self.format != before and self.format_file.parent.exists():
            self.format_file.write_text(self.format + "\n")
            if self.state_file is not None:
                self.state_file.write_text("capture\n")


@dataclass
class LoadedModule:
    """v4l2loopback as loaded: the parameters the kernel keeps per device slot."""

    version: str
    video_nr: list[int]
    exclusive_caps: list[bool]
    card_label: list[str]
    users: int = 0


@dataclass
class NodeState:
    """Everything the node model knows, guarded by one lock."""

    kernel: str
    boot_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    booted_at: float = field(default_factory=time.monotonic)
    packages: dict[str, str] = field(default_factory=dict)
    kernels: list[str] = field(default_factory=list)
    module: LoadedModule | None = None
    videodev_loaded: bool = False
    dmesg: list[tuple[float, str]] = field(default_factory=list)
    devices: dict[str, DeviceFrames] = field(default_factory=dict)
    upgraded: bool = False


class Node:
    """Filesystem-backed node state plus the kernel-side model of v4l2loopback."""

    def __init__(
        self, state_dir: Path, faults: frozenset[str], platform: str = DEFAULT_PLATFORM
    ) -> None:
        self.dir = state_dir
        self.root = state_dir / "root"
        self.faults = faults
        self.platform: Platform = PLATFORMS[platform]
        self.lock = threading.RLock()
        kernel = self.platform.kernel
        self.state = NodeState(kernel=kernel, kernels=[kernel])
        self._lay_out()

    # -- files ------------------------------------------------------------------------------
    def _lay_out(self) -> None:
        for sub in ("dev", "sys", "etc-upper", "etc-work", "var-upper", "var-work"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._fresh_run()
        self.etc("os-release", self.platform.os_release())
        self.etc("hostname", HOSTNAME + "\n")
        if "v4l2loopback-disabled" in self.faults:
            # how an admin disables a module (modprobe.d(5)): modprobe runs /bin/true instead
            self.etc("modprobe.d/disable-v4l2loopback.conf", "install v4l2loopback /bin/true\n")
        self._boot_files()

    def _fresh_run(self) -> None:
        for sub in ("run-upper", "run-work"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
            (self.root / sub).mkdir(parents=True)

    def _boot_files(self) -> None:
        (self.root / "boot_id").write_text(self.state.boot_id + "\n")
        dev = self.root / "dev"
        for entry in dev.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for name, (major, minor) in DEV_NODES.items():
            os.mknod(dev / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        for name, target in (
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ):
            (dev / name).symlink_to(target)
        (dev / "shm").mkdir()
        shutil.rmtree(self.root / "sys", ignore_errors=True)
        for sub in ("class/video4linux", "devices/virtual/video4linux", "module"):
            (self.root / "sys" / sub).mkdir(parents=True)

    def etc(self, relative: str, content: str | None = None) -> str | None:
        """Read (content=None) or write a file under the node's /etc."""
        return self._file("etc", relative, content)

    def var(self, relative: str, content: str | None = None) -> str | None:
        """Read (content=None) or write a file under the node's /var."""
        return self._file("var", relative, content)

    def run_file(self, relative: str, content: str | None = None) -> str | None:
        """Read (content=None) or write a file under the node's /run."""
        return self._file("run", relative, content)

    def _file(self, top: str, relative: str, content: str | None) -> str | None:
        upper = self.root / f"{top}-upper" / relative
        if content is None:
            for candidate in (upper, Path("/") / top / relative):
                if candidate.is_file():
                    return candidate.read_text()
            return None
        upper.parent.mkdir(parents=True, exist_ok=True)
        upper.write_text(content)
        return content

    def var_path(self, relative: str) -> Path:
        """The real path behind the node's /var/<relative>."""
        return self.root / "var-upper" / relative

    def etc_dir(self, relative: str) -> list[tuple[str, str]]:
        """(name, content) of the files in the node's /etc/<relative> directory."""
        directory = self.root / "etc-upper" / relative
        if not directory.is_dir():
            return []
        return sorted((p.name, p.read_text()) for p in directory.iterdir() if p.is_file())

    # -- kernel log ---------------------------------------------------------------------------
    def log_kernel(self, line: str) -> None:
        """Append a line to the kernel ring buffer."""
        with self.lock:
            self.state.dmesg.append((time.monotonic() - self.state.booted_at, line))

    # -- packages -----------------------------------------------------------------------------
    def installed(self, package: str) -> str | None:
        """The installed version of a package, or None."""
        return self.state.packages.get(package)

    def videodev_available(self) -> bool:
        """videodev: in linux-modules-extra on 24.04's -gcp kernel, in 26.04's one package.

        docs/facts.md#videodev-module.
        """
        if not self.platform.extras_package:
            return True
        return f"linux-modules-extra-{self.state.kernel}" in self.state.packages

    def v4l2loopback_version(self) -> str | None:
        """Upstream version of the installed v4l2loopback-dkms, built by DKMS for every kernel."""
        version = self.installed("v4l2loopback-dkms")
        return version.split("-")[0].split(":")[-1] if version else None

    # -- devices --------------------------------------------------------------------------------
    def device(self, devnode: str) -> DeviceFrames | None:
        """The frames buffer behind /dev/videoN, if that node exists."""
        return self.state.devices.get(devnode)

    def card(self, devnode: str) -> tuple[int, str]:
        """(minor, card label) of an existing /dev/videoN."""
        name = Path(devnode).name
        minor = os.minor(os.stat(self.root / "dev" / name).st_rdev)
        label = (self.root / "sys/class/video4linux" / name / "name").read_text().strip()
        return minor, label

    def create_device(self, number: int, minor: int, label: str) -> None:
        """Create /dev/videoN: char 81:minor, root:video 0660, and its sysfs.

        As docs/facts.md#video-devices describes a mock camera.
        """
        devnode = f"/dev/video{number}"
        path = self.root / "dev" / f"video{number}"
        os.mknod(path, 0o660 | stat.S_IFCHR, os.makedev(V4L2_MAJOR, minor))
        os.chown(path, 0, _video_gid())
        os.chmod(path, 0o660)  # mknod's mode went through the umask
        sysdir = self.root / "sys/devices/virtual/video4linux" / f"video{number}"
        sysdir.mkdir(parents=True)
        (sysdir / "name").write_text(label + "\n")
        (sysdir / "dev").write_text(f"{V4L2_MAJOR}:{minor}\n")
        (sysdir / "format").write_text("\n")
        (sysdir / "uevent").write_text(
            f"MAJOR={V4L2_MAJOR}\nMINOR={minor}\nDEVNAME=video{number}\n"
        )
        link = self.root / "sys/class/video4linux" / f"video{number}"
        link.symlink_to(f"../../devices/virtual/video4linux/video{number}")
        declared = not (self.v4l2loopback_version() or "0.12").startswith("0.12")
        self.state.devices[devnode] = SysfsDevice(devnode, sysdir / "format", declared)

    def remove_devices(self) -> list[str]:
        """Remove every /dev/videoN and its sysfs entries; return the removed nodes."""
        gone = sorted(self.state.devices)
        for devnode in gone:
            name = Path(devnode).name
            (self.root / "dev" / name).unlink(missing_ok=True)
            (self.root / "sys/class/video4linux" / name).unlink(missing_ok=True)
            shutil.rmtree(self.root / "sys/devices/virtual/video4linux" / name, ignore_errors=True)
        self.state.devices.clear()
        return gone

    # -- boot -------------------------------------------------------------------------------------
    def new_boot(self) -> None:
        """Volatile state is gone after a reboot; the disk stays."""
        with self.lock:
            self.remove_devices()
            self.state.module = None
            self.state.videodev_loaded = False
            self.state.dmesg = []
            self.state.boot_id = str(uuid.uuid4())
            self.state.booted_at = time.monotonic()
            upgraded = self.platform.upgraded_kernel
            if self.state.upgraded and upgraded in self.state.kernels:
                self.state.kernel = upgraded
            self._fresh_run()
            self._boot_files()
            self.log_kernel(
                f"Linux version {self.state.kernel} (buildd@lcy02-amd64-013) #19-Ubuntu SMP"
            )
