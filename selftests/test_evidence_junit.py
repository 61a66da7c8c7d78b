"""The JUnit file never lies: written and valid even when no test could run.

Refused settings end pytest in `pytest_configure` (exit 4), a selection that matches nothing
ends it with exit 5, and a twin that cannot start fails the session's node before any test
body runs; in each case the JUnit file must exist, validate against the xunit2 schema pytest's
own tests use, and hold an errored testcase that says why.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

REPO = Path(__file__).resolve().parent.parent
XSD = Path(__file__).parent / "data" / "junit-10.xsd"


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _single_error(junit: Path) -> ET.Element:
    xmlschema.XMLSchema(XSD).validate(junit)
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert len(cases) == 1, ET.tostring(ET.parse(junit).getroot())
    error = cases[0].find("error")
    assert error is not None
    return error


def test_refused_setting_still_leaves_an_errored_testcase(tmp_path):
    reports = tmp_path / "reports"
    proc = _run("-k", "akri", "--cameras=99", f"--reports-dir={reports}")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    error = _single_error(reports / "junit.xml")
    assert "--cameras" in error.get("message") and "99" in error.get("message")


def test_refused_setting_from_the_environment_goes_to_the_given_junit_path(tmp_path):
    junit = tmp_path / "elsewhere" / "result.xml"
    proc = _run("-k", "akri", f"--junitxml={junit}", env={"AKRI_E2E_TARGET": "gce2"})
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "AKRI_E2E_TARGET" in _single_error(junit).get("message")


def test_nothing_selected_still_leaves_an_errored_testcase(tmp_path):
    reports = tmp_path / "reports"
    proc = _run("-k", "no_test_has_this_name", f"--reports-dir={reports}")
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "no test ran" in _single_error(reports / "junit.xml").get("message")
    assert "NO TESTS" in (reports / "summary.md").read_text()


def test_twin_that_cannot_start_is_an_errored_testcase_saying_why(tmp_path):
    # the daemon child runs with PYTHONSAFEPATH, so this stand-in shadows twin.daemon for it
    fake = tmp_path / "fake" / "twin"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "daemon.py").write_text(
        "import sys\nsys.stderr.write('sshd: no hostkeys available -- exiting\\n')\nsys.exit(1)\n"
    )
    reports = tmp_path / "reports"
    proc = _run(
        "-k",
        "akri",
        f"--reports-dir={reports}",
        env={"PYTHONPATH": f"{fake.parent}{os.pathsep}{REPO}", "PYTHONSAFEPATH": "1"},
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    junit = reports / "junit.xml"
    xmlschema.XMLSchema(XSD).validate(junit)
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    error = cases["test_target_reachable"].find("error")
    assert error is not None and "no hostkeys available" in (error.text or ""), proc.stdout[-3000:]
    others = [c for name, c in cases.items() if name != "test_target_reachable"]
    assert others and all(c.find("skipped") is not None for c in others)
    folder = reports / "test_10_target.py__test_target_reachable"
    assert "the twin did not start" in (folder / "failure.txt").read_text()
