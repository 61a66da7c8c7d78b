"""Gating: a failed test's dependents are skipped at once, naming it; deselection does not block."""

import pytest

TESTS = """
import pytest

def test_a():
    assert False, "a is broken"

@pytest.mark.prereq("test_a")
def test_b():
    pass

@pytest.mark.prereq("test_b")
def test_c():
    pass

def test_d():
    pass

@pytest.mark.prereq("test_d")
def test_e():
    pass
"""


@pytest.fixture
def suite(pytester):
    pytester.makeconftest('pytest_plugins = ["fixtures.plugin", "fixtures.gating"]\n')
    pytester.makepyfile(test_layers=TESTS)
    return pytester


def test_failed_prerequisite_skips_dependents_naming_it(suite):
    result = suite.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=2, failed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*SKIPPED*prerequisite test_layers.py::test_a failed*",
            "*SKIPPED*prerequisite test_layers.py::test_b was skipped "
            "(test_layers.py::test_a failed)*",
        ]
    )


def test_deselected_prerequisite_does_not_block(suite):
    result = suite.runpytest_subprocess("-k", "test_b or test_e")
    result.assert_outcomes(passed=2)


def test_junit_is_written_to_the_reports_dir(suite):
    suite.runpytest_subprocess("--reports-dir", "out")
    text = (suite.path / "out" / "junit.xml").read_text()
    assert "test_b" in text and "prerequisite" in text
