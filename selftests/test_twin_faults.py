"""The suite against the twin, as a user runs it: healthy, every fault, every perturbation.

Every fault runs on the default platform (Ubuntu 24.04); the host layers' faults (v4l2loopback,
gstreamer), where the platforms differ, run on Ubuntu 26.04 too (`--twin-platform`). Each run
is `python -m pytest -k akri` in a subprocess with its own reports directory; the JUnit file
says which test failed, which were skipped and why. A fault must fail the test the fault table
names (twin/faults.py), skip everything after it naming a failed test, and say what it
observed; a perturbation must leave the suite green.
"""

import signal
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fixtures.evidence.contact_sheet import feeds
from fixtures.layers import LAYERS
from fixtures.node.waits import wait_until
from selftests import suite_run
from twin.faults import FAULTS

REPO = Path(__file__).resolve().parent.parent
LAYER_FAULTS = [f for f in FAULTS.values() if f.layer in LAYERS]
PERTURBATIONS = [f for f in FAULTS.values() if f.layer is None]
HOST_LAYERS = ("v4l2loopback", "gstreamer")
#: (fault, platform): every fault on 24.04, the host layers' faults on 26.04 as well
FAULT_RUNS = [(f, "ubuntu-24.04") for f in LAYER_FAULTS] + [
    (f, "ubuntu-26.04") for f in LAYER_FAULTS if f.layer in HOST_LAYERS
]


def run_suite(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run the suite against the twin; return the process and one dict per testcase."""
    junit = tmp_path / "junit.xml"
    proc = suite_run.run_suite(
        "-p",
        "no:randomly",
        f"--reports-dir={tmp_path / 'reports'}",
        f"--junitxml={junit}",
        "--ssh-timeout=5",
        "--ready-timeout=8",
        "--frame-timeout=15",
        *args,
    )
    cases = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error"}.get(child.tag, "skipped")
                message = (child.get("message") or "") + "\n" + (child.text or "")
        cases.append(
            {
                "name": case.get("name"),
                "module": case.get("classname"),
                "outcome": outcome,
                "message": message,
            }
        )
    return proc, cases


def _layer(case: dict) -> int:
    module = case["module"].rsplit(".", 1)[-1]
    return next(i for i, layer in enumerate(LAYERS) if module.endswith(layer))


def _run_id(run: tuple) -> str:
    fault, platform = run
    return fault.name if platform == "ubuntu-24.04" else f"{fault.name}-{platform}"


@pytest.mark.slow
@pytest.mark.parametrize("fault,platform", FAULT_RUNS, ids=[_run_id(r) for r in FAULT_RUNS])
def test_fault_fails_its_layer_only(tmp_path, fault, platform):
    platform_args = () if platform == "ubuntu-24.04" else ("--twin-platform", platform)
    proc, cases = run_suite(tmp_path, "--twin-fault", fault.name, *fault.args, *platform_args)
    assert proc.returncode == 1, proc.stdout[-3000:]
    # a parametrized test (one case per camera) fails when one of its cases fails
    mine = [c for c in cases if c["name"].split("[")[0] == fault.test]
    failed = [c for c in mine if c["outcome"] == "failed"]
    assert failed, f"{fault.test} {[c['outcome'] for c in mine]}\n{proc.stdout[-3000:]}"
    messages = "\n".join(c["message"] for c in failed)
    assert fault.observed in messages, messages[-2000:]
    layer = LAYERS.index(fault.layer)
    for case in cases:
        where = _layer(case)
        if where < layer:
            # verify-only runs skip the install tests of the layers before, saying so
            never = "--install=never" in fault.args and "--install never" in case["message"]
            assert case["outcome"] == "passed" or never, (
                f"{case['name']} {case['outcome']}: {case['message']}"
            )
        elif where > layer:
            assert case["outcome"] == "skipped", f"{case['name']} ran after a failed layer"
            assert "prerequisite" in case["message"] and " failed" in case["message"], case
        else:
            assert case["outcome"] != "error", case


@pytest.mark.slow
@pytest.mark.parametrize("fault", PERTURBATIONS, ids=lambda f: f.name)
def test_perturbation_passes(tmp_path, fault):
    proc, cases = run_suite(tmp_path, "--twin-fault", fault.name, "--ready-timeout", "60")
    bad = [c for c in cases if c["outcome"] != "passed"]
    assert proc.returncode == 0 and not bad, proc.stdout[-4000:]
    props = {
        p.get("name"): p.get("value")
        for p in ET.parse(tmp_path / "junit.xml").getroot().iter("property")
    }
    if fault.name == "reboot-required":  # the node really rebooted, and the plan went on
        assert props["install.reboot-if-required"].startswith("changed"), props
    if fault.name == "ssh-drop":  # the connection really dropped, and the suite reconnected
        assert int(props["ssh_reconnects"]) >= 1, props


#: what the suite records on each platform: the loaded version and where it was read, the
#: module's source, the release (docs/facts.md#ubuntu-2604)
PLATFORM_VERSIONS = {
    "ubuntu-24.04": ("0.12.7 (kernel log)", "dkms", "Ubuntu 24.04.1 LTS"),
    "ubuntu-26.04": ("0.15.3 (/sys/module/v4l2loopback/version)", "dkms", "Ubuntu 26.04.1 LTS"),
}


@pytest.mark.slow
@pytest.mark.parametrize("platform", sorted(PLATFORM_VERSIONS))
def test_healthy_twin_on_each_platform(tmp_path, platform):
    proc, cases = run_suite(tmp_path, "--twin-platform", platform)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert len(cases) >= 30 and all(c["outcome"] == "passed" for c in cases)
    props = {
        p.get("name"): p.get("value")
        for p in ET.parse(tmp_path / "junit.xml").getroot().iter("property")
    }
    seen = (props.get("v4l2loopback"), props.get("v4l2loopback_source"), props.get("os"))
    assert seen == PLATFORM_VERSIONS[platform], props


def processes_of(state_dir: str) -> dict[int, str]:
    """Live (non-zombie) processes of one twin: its state dir is in their command line or
    environment (daemon, sshd and sessions by command line, feeders by GST_REGISTRY)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            env = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if state != "Z" and (state_dir in args or state_dir in env):
            found[int(entry.name)] = args
    return found


def twin_state_dir_of(pid: int) -> str | None:
    """The state dir of the twin daemon started by process `pid`, if it runs yet."""
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if entry.name.isdigit() and int(stat[1]) == pid and b"twin.daemon" in args:
            return args[args.index(b"--state") + 1].decode()
    return None


@pytest.mark.slow
@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_healthy_twin_is_green(tmp_path, attempt):
    proc, cases = run_suite(tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert len(cases) >= 30 and all(c["outcome"] == "passed" for c in cases)
    frames = sorted(f.path.name for f in feeds(tmp_path / "reports" / "frames"))
    assert frames == ["cam1.jpg", "cam2.jpg", "feed-0-any-camera.jpg"], frames
    props = {
        p.get("name"): p.get("value")
        for p in ET.parse(tmp_path / "junit.xml").getroot().iter("property")
    }
    state_dir = props["twin_state_dir"]
    assert not processes_of(state_dir), f"the twin left processes: {processes_of(state_dir)}"
    assert not Path(state_dir).exists(), f"the twin left {state_dir}"


@pytest.mark.slow
def test_verify_only_against_a_bare_ssh_host_fails_v4l2loopback_fast(tmp_path):
    """--target ssh --install never on a node without v4l2loopback: that layer fails, fast."""
    from twin.lifecycle import Twin

    with Twin() as node:
        proc, cases = run_suite(
            tmp_path,
            "--target=ssh",
            f"--host={node.user}@{node.host}:{node.port}",
            f"--ssh-key={node.key_path}",
            f"--ssh-host-key={node.host_key}",
            "--install=never",
        )
    outcomes = {c["name"]: c["outcome"] for c in cases}
    assert outcomes["test_target_reachable"] == "passed"
    assert outcomes["test_v4l2loopback_loaded"] == "failed", proc.stdout[-3000:]
    later = [c for c in cases if _layer(c) > LAYERS.index("v4l2loopback")]
    assert later and all(c["outcome"] == "skipped" for c in later)
    assert all(
        "test_v4l2loopback_loaded failed" in c["message"] or "was skipped" in c["message"]
        for c in later
    )


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_interrupted_run_leaves_nothing_behind(tmp_path, sig):
    """Ctrl-C mid-run tears the twin down; even a SIGKILLed pytest takes the twin with it."""
    run = subprocess.Popen(
        [*suite_run.SUITE, f"--reports-dir={tmp_path}"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        state_dir, _ = wait_until(
            lambda: twin_state_dir_of(run.pid), bool, timeout=60, what="the run to start its twin"
        )
        wait_until(
            lambda: processes_of(state_dir),
            lambda procs: any("gst-launch-1.0" in a for a in procs.values()),
            timeout=120,
            what="the run to start its feeders",
        )
        run.send_signal(sig)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    wait_until(
        lambda: processes_of(state_dir),
        lambda procs: not procs,
        timeout=20,
        what="the twin's processes to end",
    )
    wait_until(
        lambda: Path(state_dir).exists(),
        lambda exists: not exists,
        timeout=10,
        what="the twin's state directory to be removed",
    )
