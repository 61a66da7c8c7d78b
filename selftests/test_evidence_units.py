"""Evidence building blocks, hermetic and fast: redaction, bounded files, command history
rendering, JUnit finalizing, layer verdicts, the contact sheet and timings."""

import base64
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from PIL import Image

from fixtures.evidence import junit
from fixtures.evidence.contact_sheet import feeds, make_contact_sheet
from fixtures.evidence.diagnostic_files import Folder, bounded, render_commands
from fixtures.evidence.diagnostic_probes import probes_for
from fixtures.evidence.diagnostics import folder_name
from fixtures.evidence.report import CaseOutcome, layer_verdicts
from fixtures.layers import CLUSTER_LAYERS
from fixtures.node import parsers
from fixtures.record.redact import MARK, redact
from fixtures.record.timings import Timings, WaitRecord
from fixtures.transport.host import CommandHistory, CommandResult

XSD = Path(__file__).parent / "data" / "junit-10.xsd"
# Planted, fake key material; the marker is assembled so no file here looks like a real key.
KEY = "PRIVATE " + "KEY"
PEM = f"-----BEGIN EC {KEY}-----\nMHcCAQEEIKeyBodyLine1\nKeyBodyLine2==\n-----END EC {KEY}-----\n"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (PEM, "KeyBodyLine1"),
        (f"-----BEGIN OPENSSH {KEY}-----\nb3BlbnNzaC1rZXkCUTSHORT", "b3BlbnNzaC1rZXkCUTSHORT"),
        (f"    client-key-data: {base64.b64encode(PEM.encode()).decode()}", "LS0tLS1CRUdJTi"),
        ("    client-certificate-data: QUJDREVGR0hJSktMTU5PUA==", "QUJDREVGR0hJSktMTU5PUA"),
        ("    token: s3cr3t-t0ken-value", "s3cr3t-t0ken-value"),
        ('{"token": "abc123tok", "kind": "Config"}', "abc123tok"),
        ("{'client-key-data': 'QUFBQUFB'}", "QUFBQUFB"),
        ("Authorization: Bearer abcdefgh.ijkl", "abcdefgh"),
        ("curl -H 'authorization: Basic dXNlcjpwYXNz'", "dXNlcjpwYXNz"),
        ("GET with bearer 0123456789abcdef", "0123456789abcdef"),
        ("pull https://robot:hunter2secret@registry.example/x", "hunter2secret"),
        ("kubectl --token=tok-value-1 get pods", "tok-value-1"),
        ("jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl", "eyJzdWIiOiJhZG1pbiJ9"),
        ("password: p4ssw0rd!", "p4ssw0rd!"),
    ],
)
def test_redact_removes_secret(text, secret):
    clean = redact(text)
    assert secret not in clean and MARK in clean, clean


@pytest.mark.parametrize(
    "text",
    [
        "tokens: 5, token_count=3, the token expired",
        "secretName: camera-config",
        "certificate-authority-data is public; server: https://127.0.0.1:16443",
        "akri-udev-video-64ce1a-pod: Running; restarts=4 waiting=CrashLoopBackOff",
        "v4l2loopback driver version 0.12.7 loaded",
    ],
)
def test_redact_leaves_ordinary_text_alone(text):
    assert redact(text) == text


def test_redact_keeps_the_shape_of_a_kubeconfig():
    kubeconfig = (
        "users:\n- name: admin\n  user:\n    client-certificate-data: QUJD\n"
        "    client-key-data: REVG\n"
    )
    assert redact(kubeconfig) == kubeconfig.replace("QUJD", MARK).replace("REVG", MARK)


def test_bounded_keeps_head_and_tail():
    text = "HEAD" + "x" * 10_000 + "TAIL"
    data = bounded(text, 1000)
    assert len(data) < 1100 and data.startswith(b"HEAD") and data.endswith(b"TAIL")
    assert b"bytes cut" in data


def test_folder_redacts_and_indexes(tmp_path):
    folder = Folder(tmp_path / "d")
    folder.write("host-x.txt", "$ cat kubeconfig\n[exit 0]\n\ntoken: abc123secret\n")
    folder.error("kube", RuntimeError("API gone"))
    folder.finish("tests/t.py::test_a", "microk8s", 0.25)
    written = (tmp_path / "d" / "host-x.txt").read_text()
    assert "abc123secret" not in written and MARK in written
    index = (tmp_path / "d" / "index.md").read_text()
    assert "`host-x.txt`" in index and "cat kubeconfig" in index and "API gone" in index
    assert (tmp_path / "d" / "collection-errors.txt").is_file()


def test_command_history_and_batch_rendering():
    history = CommandHistory(size=3)
    script = parsers.batch_script({"lsmod": "lsmod", "stat": "stat /dev/video*"}, timeout=5)
    output = "### lsmod rc=0\nv4l2loopback 1 0\n### stat rc=1\nstat: cannot stat\n"
    began = time.monotonic()
    history.record(CommandResult("uname -r", 0, "6.8.0\n", "", 0.01))
    history.record(CommandResult(script, 0, output, "", 0.2))
    records = history.since(began - 1)
    assert [r.exited for r in records] == [0, 0]
    text = render_commands(records, began - 1)
    assert "$ uname -r" in text and "6.8.0" in text
    assert "batch of 2 commands" in text and "$ stat /dev/video*\n    exit 1" in text
    for n in range(5):
        history.record(CommandResult(f"echo {n}", 0, "", "", 0.0))
    assert [r.command for r in history.since(0)] == ["echo 2", "echo 3", "echo 4"]


def test_probes_per_layer():
    host = {p.name for p in probes_for("v4l2loopback", 2, inspect=True)}
    assert {"lsmod", "dmesg-v4l2", "modinfo-v4l2loopback", "dkms-status", "stat-devices"} <= host
    assert "microk8s-inspect" not in host
    feeders = {p.name for p in probes_for("gstreamer", 2, inspect=True)}
    assert {"feeder-video1-journal", "feeder-video2-show", "gst-processes"} <= feeders
    for layer in CLUSTER_LAYERS:
        names = {p.name for p in probes_for(layer, 2, inspect=True)}
        assert {"microk8s-status", "journal-kubelite", "journal-containerd"} <= names
        assert "microk8s-inspect" in names
        assert "microk8s-inspect" not in {p.name for p in probes_for(layer, 2, inspect=False)}


def test_folder_name():
    assert (
        folder_name("tests/test_60_x.py::test_brokers[a/b c]") == "test_60_x.py__test_brokers_a_b_c"
    )


def test_layer_verdicts():
    outcomes = [
        CaseOutcome("t::a", "target", "passed"),
        CaseOutcome("t::b", "v4l2loopback", "failed", "boom"),
        CaseOutcome("t::c", "gstreamer", "skipped", "prerequisite t::b failed"),
    ]
    verdicts = {v.layer: (v.verdict, v.detail) for v in layer_verdicts(outcomes)}
    assert verdicts["target"] == ("passed", "")
    assert verdicts["v4l2loopback"] == ("failed", "t::b failed")
    assert verdicts["gstreamer"] == ("skipped", "prerequisite t::b failed")
    assert verdicts["streaming"] == ("not run", "not selected")


def test_junit_finalize_adds_a_testcase_and_moves_properties(tmp_path):
    schema = xmlschema.XMLSchema(XSD)
    empty = tmp_path / "empty.xml"
    empty.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite '
        'name="pytest" errors="0" failures="0" skipped="0" tests="0" time="0.1"/></testsuites>'
    )
    junit.finalize(empty, "no test ran: nothing selected")
    schema.validate(empty)
    suite = ET.parse(empty).getroot().find("testsuite")
    assert suite.get("tests") == "1" and suite.get("errors") == "1"
    assert suite.find("testcase/error").get("message") == "no test ran: nothing selected"

    linked = tmp_path / "linked.xml"
    linked.write_text(
        '<testsuites><testsuite name="p" errors="0" failures="1" skipped="0" tests="1">'
        '<testcase classname="t" name="a"><properties><property name="diagnostics" '
        'value="reports/t__a" /></properties><failure message="token: abcSECRET">x</failure>'
        "</testcase></testsuite></testsuites>"
    )
    junit.finalize(linked, "unused")
    schema.validate(linked)
    text = linked.read_text()
    assert "abcSECRET" not in text and "[[ATTACHMENT|reports/t__a/index.md]]" in text

    missing = tmp_path / "missing.xml"
    junit.finalize(missing, "the session ended before any test ran")
    schema.validate(missing)


def _jpeg(path: Path, color: tuple[int, int, int], pad: int = 0) -> None:
    Image.new("RGB", (640, 480), color).save(path, "JPEG")
    with path.open("ab") as handle:
        handle.write(b"\0" * pad)  # V4L2 buffers carry zeros after the EOI


def test_contact_sheet_labels_every_feed(tmp_path):
    _jpeg(tmp_path / "feed-0.jpg", (200, 0, 0), pad=4096)
    _jpeg(tmp_path / "feed-1.jpg", (0, 200, 0))
    (tmp_path / "feed-2.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "feeds.json").write_text(
        json.dumps(
            {
                "feeds": [
                    {"id": 0, "source": "configuration service (any broker)"},
                    {"id": 1, "instance": "akri-udev-video-abc123"},
                ]
            }
        )
    )
    found = feeds(tmp_path)
    assert [f.id for f in found] == [0, 1, 2]
    assert found[1].label == "feed 1: akri-udev-video-abc123"
    assert (found[0].width, found[0].height) == (640, 480) and not found[2].ok
    sheet = make_contact_sheet(tmp_path)
    with Image.open(sheet) as image:
        assert image.format == "JPEG" and image.width > 3 * 320 and image.height > 240


def test_timings_as_dict():
    timings = Timings()
    timings.add_wait(
        WaitRecord(
            "pods ready",
            "kube",
            "timed out",
            8.0,
            8.0,
            0.0,
            events=6,
            relists=0,
            last_state="CrashLoopBackOff",
        )
    )
    timings.add_collection("t::a", 0.5, "reports/t__a")
    data = timings.as_dict([])
    assert data["waits"][0]["last_state"] == "CrashLoopBackOff"
    assert data["totals"]["diagnostics_seconds"] == 0.5
