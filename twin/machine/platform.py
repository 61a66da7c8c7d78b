"""The Ubuntu releases the twin can be (`--twin-platform`): what differs between their GCE nodes.

Ubuntu 24.04 (noble, today's default) and 26.04 (resolute) on GCE's `-gcp` kernel differ where
the demo meets the kernel (docs/facts.md#ubuntu-2604):

- 24.04's kernel has `videodev` in `linux-modules-extra-$(uname -r)`; 26.04's gcp kernel ships one
  modules package that holds it, and apt has no extras package for it
  (docs/facts.md#videodev-module);
- `v4l2loopback-dkms` is 0.12.7 on 24.04 (no MODULE_VERSION, the kernel log's `v4l2loopback
  driver version` line) and 0.15.3 on 26.04 (`modinfo -F version`, /sys/module/.../version, the
  hyphenated `v4l2-loopback` line, the per-device `state` attribute), built by DKMS on both: no
  signed prebuilt module exists for the gcp flavour (docs/facts.md#v4l2loopback-prebuilt,
  docs/facts.md#v4l2loopback-version-source);
- GStreamer is 1.24 on 24.04 and 1.28.2 on 26.04 (docs/facts.md#ubuntu-2604).

Package revisions the facts do not give (26.04's GStreamer and kernel build numbers) are
illustrative: the suite reads them, never judges them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    """One Ubuntu release on GCE, as far as the demo sees it."""

    name: str
    version_id: str  # os-release VERSION_ID, e.g. 24.04
    release: str  # os-release VERSION, e.g. "24.04.1 LTS (Noble Numbat)"
    codename: str
    kernel: str
    upgraded_kernel: str
    kernel_version_field: str  # what v4l2-ctl calls the driver version: the kernel's
    extras_package: bool  # apt has linux-modules-extra-$(uname -r), and videodev is in it
    v4l2loopback_dkms: str
    gstreamer: dict[str, str]

    @property
    def pretty(self) -> str:
        """os-release's PRETTY_NAME (and the Kubernetes Node's osImage), e.g. Ubuntu 24.04.1 LTS."""
        return f"Ubuntu {self.release.split(' (')[0]}"

    def os_release(self) -> str:
        """/etc/os-release of the release."""
        return (
            f'PRETTY_NAME="{self.pretty}"\nNAME="Ubuntu"\nVERSION_ID="{self.version_id}"\n'
            f'VERSION="{self.release}"\nVERSION_CODENAME={self.codename}\nID=ubuntu\n'
            f'ID_LIKE=debian\nHOME_URL="https://www.ubuntu.com/"\n'
            f"UBUNTU_CODENAME={self.codename}\n"
        )

    @staticmethod
    def package_version(kernel: str) -> str:
        """The Debian version of a kernel's packages (6.8.0-1019-gcp -> 6.8.0-1019.19)."""
        abi = kernel.removesuffix("-gcp")
        return f"{abi}.{int(abi.rsplit('-', 1)[-1]) % 1000}"


UBUNTU_2404 = Platform(
    "ubuntu-24.04",
    "24.04",
    "24.04.1 LTS (Noble Numbat)",
    "noble",
    "6.8.0-1019-gcp",
    "6.8.0-1020-gcp",
    "6.8.12",
    extras_package=True,
    v4l2loopback_dkms="0.12.7-2ubuntu5.1",
    gstreamer={
        "libgstreamer1.0-0": "1.24.2-1ubuntu0.1",
        "gstreamer1.0-tools": "1.24.2-1ubuntu0.1",
        "gstreamer1.0-plugins-base": "1.24.2-1ubuntu0.2",
        "gstreamer1.0-plugins-good": "1.24.2-1ubuntu1.1",
        "gstreamer1.0-libav": "1.24.1-1build1",
    },
)
UBUNTU_2604 = Platform(
    "ubuntu-26.04",
    "26.04",
    "26.04.1 LTS (Resolute Raccoon)",
    "resolute",
    "7.0.0-1004-gcp",
    "7.0.0-1005-gcp",
    "7.0.0",
    extras_package=False,
    v4l2loopback_dkms="0.15.3-1ubuntu2",
    gstreamer={
        "libgstreamer1.0-0": "1.28.2-1",
        "gstreamer1.0-tools": "1.28.2-1",
        "gstreamer1.0-plugins-base": "1.28.2-1",
        "gstreamer1.0-plugins-good": "1.28.2-1",
        "gstreamer1.0-libav": "1.28.2-1",
    },
)
PLATFORMS: dict[str, Platform] = {p.name: p for p in (UBUNTU_2404, UBUNTU_2604)}
DEFAULT_PLATFORM = "ubuntu-24.04"
