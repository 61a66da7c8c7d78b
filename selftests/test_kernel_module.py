"""The v4l2loopback resource on each platform's outputs: version source, module source, refusals.

The outputs are those docs/facts.md gives for Ubuntu 24.04 (0.12.7 from DKMS, no MODULE_VERSION,
the unhyphenated kernel-log line), 26.04 (0.15.3: sysfs and modinfo know the version, the
hyphenated line; no extras package on the gcp kernel), a kernel flavour that ships the module
prebuilt, and a Secure Boot kernel's refusal.
"""

from __future__ import annotations

import pytest

from fixtures.node import parsers
from fixtures.node.facts import Facts
from fixtures.node.kernel import COMMANDS, ModuleState, secure_boot_problem
from fixtures.node.spec import NodeSpec
from fixtures.settings.load import defaults

KERNEL_24 = "6.8.0-1019-gcp"
KERNEL_26 = "7.0.0-1004-gcp"
EXTRAS_POLICY = (
    f"linux-modules-extra-{KERNEL_24}:\n  Installed: (none)\n  Candidate: 6.8.0-1019.19\n"
    "  Version table:\n     6.8.0-1019.19 500\n"
)


def _state(outputs: dict[str, str], codes: dict[str, int] | None = None) -> ModuleState:
    codes = {name: 0 for name in outputs} | (codes or {})
    return ModuleState(Facts(COMMANDS, outputs, codes), NodeSpec.from_settings(defaults()))


def test_ubuntu_2404_dkms_version_from_the_kernel_log():
    state = _state(
        {
            "kernel": KERNEL_24 + "\n",
            "dmesg": "[   12.5] v4l2loopback driver version 0.12.7 loaded\n",
            "modinfo_file": f"/lib/modules/{KERNEL_24}/updates/dkms/v4l2loopback.ko.zst\n",
            "videodev_file": "",
            "extras": EXTRAS_POLICY,
        },
        {"sysfs_version": 1, "modinfo_version": 0, "videodev_file": 1},
    )
    assert state.version_and_source == ("0.12.7", "kernel log")
    assert state.source == "dkms"
    assert not state.videodev_available
    assert state.extras_candidate == "6.8.0-1019.19"


def test_ubuntu_2604_version_declared_in_sysfs_and_no_extras_package():
    state = _state(
        {
            "kernel": KERNEL_26 + "\n",
            "sysfs_version": "0.15.3\n",
            "dmesg": "[    9.1] v4l2-loopback driver version 0.15.3 loaded\n",
            "modinfo_version": "0.15.3\n",
            "modinfo_file": f"/lib/modules/{KERNEL_26}/updates/dkms/v4l2loopback.ko.zst\n",
            "videodev_file": f"/lib/modules/{KERNEL_26}/kernel/drivers/media/videodev.ko.zst\n",
            "extras": "",
        }
    )
    assert state.version_and_source == ("0.15.3", "/sys/module/v4l2loopback/version")
    assert state.videodev_available and state.extras_candidate is None


def test_hyphenated_line_alone_gives_the_version():
    state = _state(
        {"dmesg": "[ 1.0] v4l2-loopback driver version 0.14.0 loaded\n"},
        {"sysfs_version": 1, "modinfo_version": 1},
    )
    assert state.version_and_source == ("0.14.0", "kernel log")


def test_a_prebuilt_module_needs_no_dkms_package():
    kernel = "7.0.0-14-generic"
    state = _state(
        {
            "kernel": kernel + "\n",
            "modinfo_file": f"/lib/modules/{kernel}/kernel/v4l2loopback/v4l2loopback.ko.zst\n",
            "dpkg": "v4l-utils 1.32.0-2 ii \n",
            "dkms": "",
        }
    )
    assert state.source == "prebuilt"
    assert state.package_problem() is None


def test_no_module_on_disk_has_no_source_and_needs_the_dkms_package():
    state = _state(
        {"modinfo_file": "modinfo: ERROR: Module v4l2loopback not found.\n", "dpkg": ""},
        {"modinfo_file": 1},
    )
    assert state.source is None
    assert state.package_problem() == "not installed: v4l2loopback-dkms v4l-utils"


@pytest.mark.parametrize(
    "output",
    [
        "modprobe: ERROR: could not insert 'v4l2loopback': Key was rejected by service\n",
        "[ 30.2] Lockdown: insmod: Loading of unsigned module is restricted; see man "
        "kernel_lockdown.7\n",
    ],
)
def test_secure_boot_refusals_are_named_as_the_environment(output):
    problem = secure_boot_problem(output)
    assert problem is not None
    assert problem.startswith("environment problem, not the demo's")
    assert "Secure Boot is on" in problem and "docs/facts.md#secure-boot" in problem


def test_a_missing_symbol_is_not_secure_boot():
    assert secure_boot_problem("Unknown symbol in module, or unknown parameter") is None


def test_a_refusal_in_the_kernel_log_explains_a_missing_module():
    state = _state(
        {
            "lsmod": "Module                  Size  Used by\noverlay  196608  0\n",
            "dmesg": "[ 3.0] Lockdown: modprobe: Loading of unsigned module is restricted\n",
        }
    )
    assert "Secure Boot is on" in (state.loaded_problem() or "")


def test_apt_candidate_none_when_apt_cannot_install():
    assert parsers.apt_candidate("foo:\n  Installed: (none)\n  Candidate: (none)\n") is None
