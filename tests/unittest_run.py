"""Runs Python unittest modules for ctest and gives an honest verdict.

    python3 tests/unittest_run.py MODULE...     (from the module's directory)

Exit 0 when every test that ran passed, 1 on any failure or error, and 77 (ctest's
SKIP_RETURN_CODE) when nothing ran because every test was skipped: a suite whose whole
class is skipped must count as skipped, not as passed. Prints one line that
tests/summary.sh adds up: "unittest: N passed, N failed, N skipped"."""
import os
import sys
import unittest


def main(names):
    sys.path[0] = os.getcwd()  # as python3 -m unittest: the suite's directory, not tests/
    suite = unittest.defaultTestLoader.loadTestsFromNames(names)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = max(result.testsRun - failed - skipped - len(result.expectedFailures), 0)
    print("unittest: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if failed:
        return 1
    if passed == 0 and skipped:
        for test, reason in result.skipped:
            print("SKIP: %s: %s" % (test, reason))
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
