"""Gating: a failed test's dependents are skipped at once, naming it; deselection does not block;
a prerequisite that names no test is a usage error when the suite is collected."""

import xml.etree.ElementTree as ET

import pytest

REPO_CONFTEST = 'pytest_plugins = ["fixtures.plugin.hooks", "fixtures.plugin.gating"]\n'
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
    pytester.makeconftest(REPO_CONFTEST)
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


TYPO = """
import pytest

pytestmark = [pytest.mark.prereq("test_a")]


def test_a():
    pass


@pytest.mark.prereq("test_aa")
def test_b():
    pass
"""


def test_prerequisite_naming_no_test_is_a_usage_error_at_collection(pytester):
    pytester.makeconftest('pytest_plugins = ["fixtures.plugin"]\n')
    pytester.makepyfile(test_typo=TYPO)
    result = pytester.runpytest_subprocess("--reports-dir", "out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = TYPO.lstrip("\n").splitlines().index('@pytest.mark.prereq("test_aa")') + 1
    stderr = result.stderr.str()
    assert f"prereq('test_aa') at test_typo.py:{line} names no test" in stderr, stderr
    assert "prereq('test_a')" not in stderr, "test_a exists: only the typo is named"
    assert "passed" not in result.stdout.str(), "nothing runs before the usage error"
    error = ET.parse(pytester.path / "out" / "junit.xml").getroot().find(".//testcase/error")
    assert error is not None and "prereq('test_aa')" in error.text, error


def test_prerequisite_defined_in_a_module_not_collected_exists(pytester):
    pytester.makeconftest(REPO_CONFTEST)
    pytester.makepyfile(
        test_first="def test_a():\n    pass\n",
        test_second='import pytest\n\n@pytest.mark.prereq("test_a")\ndef test_b():\n    pass\n',
    )
    pytester.runpytest_subprocess("test_second.py").assert_outcomes(passed=1)


OUT_OF_ORDER = """
import pytest

pytestmark = [pytest.mark.akri, pytest.mark.v4l2loopback, pytest.mark.order(40)]


def test_module_loaded():
    pass
"""


def test_a_test_out_of_its_layers_order_is_a_usage_error(pytester):
    pytester.makeconftest(REPO_CONFTEST)
    pytester.makepyfile(test_misplaced=OUT_OF_ORDER)
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    stderr = result.stderr.str()
    assert "layer v4l2loopback runs at order 20, the test says 40" in stderr, stderr
    pytester.makepyfile(test_misplaced=OUT_OF_ORDER.replace("order(40)", "order(20)"))
    assert pytester.runpytest_subprocess("--collect-only", "-q").ret == pytest.ExitCode.OK
