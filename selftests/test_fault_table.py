"""The fault table is complete and told truly: every conformance test has a fault that fails
it (or a written reason why none can), every fault says what its failure shows, and the README's
table is the table in `twin/faults.py`.

Each fault's own run (`test_twin_faults.py::test_fault_fails_its_layer_only`) proves that its
named test fails first; these tests prove that together the faults reach every check.
"""

import re
import subprocess
import sys
from pathlib import Path

from fixtures.layers import LAYERS
from twin.faults import FAULTS, WITHOUT_FAULT

REPO = Path(__file__).resolve().parent.parent
LAYER_FAULTS = [f for f in FAULTS.values() if f.layer in LAYERS]
ROW = re.compile(r"^\| ([a-z0-9_]+) \| `([a-z0-9-]+)` \| .+ \| (`test_[a-z0-9_]+`|nothing: .+) \|$")


def conformance_tests() -> set[str]:
    """The function names of every conformance test that `-k akri` selects."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-k", "akri"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    return {i.split("::")[-1].split("[")[0] for i in ids}


def test_every_conformance_test_is_made_to_fail_by_a_fault():
    """A check never seen to fail is where a wrong check hides: each one has its fault.

    Each fault's run (test_fault_fails_its_layer_only) proves that its named test fails first;
    this proves that every conformance test is the named test of at least one fault, except
    the few that `WITHOUT_FAULT` lists with the reason no faithful fault exists.
    """
    tests = conformance_tests()
    assert len(tests) >= 30, tests
    covered = {f.test for f in FAULTS.values() if f.test}
    assert not covered - tests, f"faults name tests that do not exist: {covered - tests}"
    assert not set(WITHOUT_FAULT) - tests, f"WITHOUT_FAULT names unknown tests: {WITHOUT_FAULT}"
    assert not set(WITHOUT_FAULT) & covered, "a test with a fault is still listed WITHOUT_FAULT"
    assert all(len(why) > 80 for why in WITHOUT_FAULT.values()), "say why, with the source"
    missing = tests - covered - set(WITHOUT_FAULT)
    assert not missing, f"no twin fault makes these tests fail: {sorted(missing)}"


def test_every_fault_says_what_it_observed():
    for fault in LAYER_FAULTS:
        assert fault.test and fault.observed, f"{fault.name}: needs a test and its observed text"


def test_the_readme_fault_table_is_the_fault_table():
    """One row per fault with its layer and the test it fails first; perturbations pass."""
    rows = {}
    for line in (REPO / "README.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match.group(2)] = (match.group(1), match.group(3).strip("`"))
    for fault in FAULTS.values():
        assert fault.name in rows, f"README's fault table lacks {fault.name}"
        layer, test = rows.pop(fault.name)
        if fault.layer is None:
            assert (layer, test) == ("perturbation", "nothing: the suite passes"), fault.name
        else:
            assert (layer, test) == (fault.layer, fault.test), f"README row of {fault.name}"
    assert not rows, f"README's fault table names faults the twin does not have: {sorted(rows)}"
