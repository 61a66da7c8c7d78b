"""No secret reaches the evidence: planted keys, kubeconfigs and tokens never hit a report.

A small project that loads the suite's plugins runs against the local target (read-only
commands on this machine, nothing installed). Its tests fail with a private key and a
kubeconfig in their messages, run a command whose output carries a token, print a password
URL, log a token and time out a wait whose last state holds a bearer token. The secrets are
fresh random values handed over through the environment, so they appear nowhere in the test
sources. Afterwards no file under the reports directory, and nothing the run printed, may
contain any of them, while the failures, their diagnostics and a valid JUnit file are there.
"""

import base64
import secrets
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

XSD = Path(__file__).parent / "data" / "junit-10.xsd"
MARKERS = "akri target v4l2loopback gstreamer microk8s akri_control_plane akri_instances streaming"
INNER_TESTS = """
import logging
import os
import sys

import pytest

from fixtures.node.waits import wait_until

pytestmark = [pytest.mark.akri]
S = os.environ


@pytest.mark.v4l2loopback
def test_key_and_kubeconfig_in_message(host):
    result = host.run(
        f"echo 'Authorization: Bearer {S['PLANT_BEARER']}'; echo 'token: {S['PLANT_TOKEN']}'"
    )
    assert result.ok
    print(f"pulling https://robot:{S['PLANT_PASSWORD']}@registry.example/x")
    logging.getLogger("planted").warning("kubeconfig token: %s", S["PLANT_TOKEN"])
    sys.stderr.write(S["PLANT_KUBECONFIG"])
    assert False, f"the node said:\\n{S['PLANT_KEY']}\\n{S['PLANT_KUBECONFIG']}"


@pytest.mark.gstreamer
def test_wait_with_a_token_in_its_state(host):
    wait_until(
        lambda: f"Authorization: Bearer {S['PLANT_BEARER']}",
        lambda seen: False,
        timeout=0.5,
        what="a planted wait",
        describe=str,
    )
"""


def _planted() -> tuple[dict[str, str], list[str]]:
    """Fresh secrets (env values) and the fragments of them that must never be seen."""
    key = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    client_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    cert = (
        b"-----BEGIN CERTIFICATE-----\n"
        + base64.b64encode(secrets.token_bytes(48))
        + (b"\n-----END CERTIFICATE-----\n")
    )
    key_data, cert_data = base64.b64encode(client_key).decode(), base64.b64encode(cert).decode()
    token, bearer, password = (
        secrets.token_hex(16),
        secrets.token_urlsafe(24),
        secrets.token_hex(8),
    )
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://127.0.0.1:16443\n"
        "  name: microk8s-cluster\nusers:\n- name: admin\n  user:\n"
        f"    client-certificate-data: {cert_data}\n    client-key-data: {key_data}\n"
        f"    token: {token}\n"
    )
    env = {
        "PLANT_KEY": key.decode(),
        "PLANT_KUBECONFIG": kubeconfig,
        "PLANT_TOKEN": token,
        "PLANT_BEARER": bearer,
        "PLANT_PASSWORD": password,
    }
    body_lines = [line for line in key.decode().splitlines() if "-----" not in line]
    client_lines = [line for line in client_key.decode().splitlines() if "-----" not in line]
    fragments = [*body_lines, *client_lines, key_data[20:60], cert_data[20:60], token, bearer]
    return env, [*fragments, password]


def test_planted_secrets_never_reach_the_reports(pytester, monkeypatch, tmp_path):
    env, fragments = _planted()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makeini(
        "[pytest]\njunit_family = xunit2\njunit_logging = system-err\n"
        "markers =\n" + "".join(f"    {m}: layer\n" for m in MARKERS.split())
    )
    pytester.makeconftest('pytest_plugins = ["fixtures.plugin"]\n')
    pytester.makepyfile(test_leaks=INNER_TESTS)
    reports = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        "--target=local", "--install=never", f"--reports-dir={reports}", "-rA", timeout=180
    )
    printed = "\n".join(result.outlines + result.errlines)

    assert result.ret == 1, printed[-3000:]
    result.assert_outcomes(failed=2)
    files = [p for p in reports.rglob("*") if p.is_file()]
    leaks = [
        (str(p.relative_to(reports)), f[:12])
        for p in files
        for f in fragments
        if f.encode() in p.read_bytes()
    ]
    assert not leaks, f"secrets written under the reports dir: {leaks}"
    assert not [f[:12] for f in fragments if f in printed], "a secret was printed:\n" + printed

    # the evidence is all there, only redacted
    assert "[REDACTED]" in printed and "PRIVATE KEY-----" in printed
    first = reports / "test_leaks.py__test_key_and_kubeconfig_in_message"
    commands = (first / "commands.txt").read_text()
    assert "Authorization: [REDACTED]" in commands
    assert "client-key-data: [REDACTED]" in (first / "failure.txt").read_text()
    waits = (
        reports / "test_leaks.py__test_wait_with_a_token_in_its_state" / "waits.txt"
    ).read_text()
    assert "timed out" in waits and "Authorization: [REDACTED]" in waits
    assert (reports / "summary.md").is_file() and (reports / "timings.json").is_file()
    junit = reports / "junit.xml"
    xmlschema.XMLSchema(XSD).validate(junit)
    outputs = [e.text or "" for e in ET.parse(junit).getroot().iter("system-out")]
    # the path is relative to the reports folder, so it resolves after the artifact moves
    assert any(f"diagnostics: {first.name}" in text for text in outputs), outputs
