"""What conftest.py promises beyond its fixtures: it leaves no folder behind, and under
CI=true a skip that ALLOWED_SKIPS does not allow fails the run, naming the test and its
reason (elsewhere a skip is a skip). The skip cases run pytest on small test files beside
a copy of the real conftest.py, so the rule and its list are CI's own."""

import os
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

FILES = {  # path -> source; the first is allowed by ALLOWED_SKIPS, the next two are not
    "tests/test_threads.py": """
        import pytest
        def test_workers():
            pytest.skip("one core: torch runs no OpenMP workers to free")
        @pytest.mark.xfail(reason="a known failure, not a skip")
        def test_known():
            assert False
    """,
    "tests/test_tools.py": """
        import pytest
        def test_tool():
            pytest.skip("needs curl")
        @pytest.mark.skipif(True, reason="needs a browser")
        def test_browser():
            pass
    """,
    "tests/test_package.py": """
        import pytest
        pytest.importorskip("no_such_package_here")
    """,
}


def test_the_session_cache_is_a_folder_pytest_prunes(monkeypatch, tmp_path_factory):
    monkeypatch.undo()  # without this test's own cache: the session's
    cache = Path(os.environ["CHARRNN_CACHE"])
    assert cache.is_relative_to(tmp_path_factory.getbasetemp())


@pytest.fixture
def run_tests(pytester, monkeypatch):
    """run_tests(*paths, ci) -> pytest's result on those FILES, with CI=true or CI unset."""
    pytester.makeini("[pytest]")  # the root: node ids start with tests/, as in the project
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))

    def run(*paths: str, ci: bool):
        for path in paths:
            pytester.makepyfile(**{path.removesuffix(".py"): FILES[path]})
        if ci:
            monkeypatch.setenv("CI", "true")
        else:
            monkeypatch.delenv("CI", raising=False)
        return pytester.runpytest(*paths)

    return run


def test_without_ci_a_skip_is_a_skip(run_tests):
    result = run_tests(*FILES, ci=False)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(skipped=4, xfailed=1)


def test_in_ci_an_allowed_skip_and_an_xfail_pass(run_tests):
    result = run_tests("tests/test_threads.py", ci=True)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(skipped=1, xfailed=1)


def test_in_ci_an_unexpected_skip_fails_and_says_which(run_tests):
    result = run_tests("tests/test_threads.py", "tests/test_tools.py", ci=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(skipped=1, xfailed=1, failed=1, errors=1)  # a mark skips in setup
    for test, reason in [("test_tool", "needs curl"), ("test_browser", "needs a browser")]:
        result.stdout.fnmatch_lines([f"*unexpected skip in CI: tests/test_tools.py::{test}: "
                                     f"{reason}"])


def test_in_ci_a_skipped_module_stops_the_run_and_says_why(run_tests):
    result = run_tests("tests/test_package.py", ci=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED  # an error while collecting
    result.stdout.fnmatch_lines(
        ["*unexpected skip in CI: tests/test_package.py: *no_such_package_here*"])
