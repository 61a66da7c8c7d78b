"""Layer 2, v4l2loopback: the kernel module (>= 0.12.5) and one mock camera per device."""

import pytest

from fixtures.install.probes import assert_installed
from fixtures.node.devices import VideoDevices
from fixtures.node.kernel import V4l2LoopbackModule

pytestmark = [
    pytest.mark.akri,
    pytest.mark.v4l2loopback,
    pytest.mark.order(20),
    pytest.mark.prereq("test_target_reachable"),
]


@pytest.fixture(scope="module")
def layer(installed):
    return installed("v4l2loopback")


@pytest.fixture(scope="module")
def module(host, layer, spec):
    """The module, observed once (one round trip) for every test here."""
    return V4l2LoopbackModule(host, spec).observe()


@pytest.fixture(scope="module")
def devices(host, layer, spec):
    """The cameras' devices, observed once (one round trip) for every camera's case."""
    return VideoDevices(host, spec).observe()


def test_v4l2loopback_install(layer, settings):
    """The host steps and the module package installed (dkms built it for the running kernel)."""
    assert_installed(layer, "v4l2loopback", settings.install)


@pytest.mark.prereq("test_v4l2loopback_install")
def test_v4l2loopback_loaded(module):
    """lsmod shows v4l2loopback and the videodev it depends on."""
    problem = module.loaded_problem()
    assert problem is None, problem


@pytest.mark.prereq("test_v4l2loopback_loaded")
def test_v4l2loopback_version(module, versions):
    """The loaded module is >= 0.12.5 (sysfs and modinfo know >= 0.13, the kernel log any).

    See docs/facts.md#v4l2loopback-version-source; the module's source (prebuilt or DKMS) is
    recorded beside it (docs/facts.md#v4l2loopback-prebuilt).
    """
    version, read_from = module.version_and_source
    versions["v4l2loopback"] = f"{version} ({read_from})" if version else "unknown"
    versions["v4l2loopback_package"] = module.package
    versions["v4l2loopback_source"] = module.source or "unknown"
    problem = module.version_problem()
    assert problem is None, problem


@pytest.mark.prereq("test_v4l2loopback_loaded")
def test_video_devices(devices, camera):
    """The camera's /dev/videoN is a V4L2 character device (major 81) owned by v4l2loopback.

    The card label camN is the suite's own naming: required where the suite installs, not of
    a deployment it did not make (the docs' `modprobe` sets none; the label is the device's
    name, docs/facts.md#video-devices).
    """
    problems = devices.problems(camera)
    assert not problems, (
        f"expected loopback camera {camera.title}:\n  "
        + "\n  ".join(problems)
        + f"\n{devices.facts.quote('stat')}"
    )


@pytest.mark.prereq("test_video_devices")
def test_exclusive_caps(module, camera):
    """The camera's exclusive_caps is what the node asks for.

    The parameter holds one value per device (docs/facts.md#exclusive-caps-per-device). Where
    the suite installs, that is its own requirement: Y for every camera (it loads and
    persists exclusive_caps=1,..,1). In verify-only, it is what the node's /etc/modprobe.d asks
    for, device by device, since that is what the node comes back with after a reboot; a
    module loaded by hand and not persisted asks for nothing the suite could hold it to (the
    docs' `exclusive_caps=1 video_nr=1,2` loads Y,N and the demo works: Akri's rule is
    KERNEL=="video[0-9]*", docs/facts.md#udev-capabilities), and the check is skipped saying
    what it saw.
    """
    wanted = module.wanted_exclusive_caps()
    if wanted is None:
        loaded = ",".join(module.exclusive_caps[: len(module.spec.cameras)])
        pytest.skip(
            f"--install never and nothing in /etc/modprobe.d sets exclusive_caps: the module "
            f"was loaded by hand with exclusive_caps {loaded} "
            "(docs/facts.md#exclusive-caps-per-device); Akri's KERNEL rule does not depend "
            "on it (docs/facts.md#udev-capabilities)"
        )
    problem = module.exclusive_caps_problem(camera)
    quote = module.facts.quote
    assert problem is None, (
        f"exclusive_caps differs from {wanted[1]}:\n  {problem}\n"
        f"{quote('exclusive_caps')}\n{quote('video_nr')}\n{quote('modprobe_d')}\n"
        "(parameters change only when the module is reloaded: modprobe -r v4l2loopback first)"
    )
