#!/usr/bin/env bash
# Prints passed, failed and skipped counts per runner (cmocka, busted, python unittest,
# shell) for the last ctest run in BUILD, then one closing line exactly like
#   tests: N passed, N failed, N skipped
# Counts come from each test's output in Testing/Temporary/LastTest.log; ctest's own
# verdicts (skipped = exit 77, SKIP_RETURN_CODE) from the JUnit file that make test asks
# ctest to write (Testing/junit.xml). A test that crashed before printing its counts
# counts as one failure; a shell test counts as one test.
build=${1:-build}
exec python3 - "$build" <<'PY'
import os
import re
import sys
import xml.etree.ElementTree as ET

build = sys.argv[1]
log = os.path.join(build, "Testing", "Temporary", "LastTest.log")
junit = os.path.join(build, "Testing", "junit.xml")
if not os.path.isfile(log):
    print("summary: no ctest log at %s" % log)
    sys.exit(0)

outputs, verdicts = {}, {}
name, lines, inside = None, [], False
with open(log, errors="replace") as f:
    for line in f:
        m = re.match(r"^\d+/\d+ Testing: (\S+)", line)
        if m:
            name, lines, inside = m.group(1), [], False
        elif name and line.startswith("Output:"):
            inside = True
        elif name and line.startswith("<end of output>"):
            inside = False
            outputs[name] = "".join(lines[1:])  # lines[0] is the dashed rule
        elif name and inside:
            lines.append(line)
        elif name and line.startswith("Test Passed."):
            verdicts[name] = "passed"
        elif name and line.startswith("Test Failed."):
            verdicts[name] = "failed"

# LastTest.log says "Test Passed." for a test that exited with its SKIP_RETURN_CODE;
# only the JUnit file tells skipped apart. Without it (ctest run by hand), a test whose
# output ends with a SKIP: line is taken as skipped.
if os.path.isfile(junit) and os.path.getmtime(junit) >= os.path.getmtime(log) - 5:
    for case in ET.parse(junit).getroot().iter("testcase"):
        st = case.get("status")
        n = case.get("name")
        if n in verdicts or n in outputs:
            verdicts[n] = {"run": "passed", "fail": "failed"}.get(st, "skipped" if case.find("skipped") is not None
                                                                   else "failed")
else:
    for n, out in outputs.items():
        if verdicts.get(n) == "passed" and re.search(r"(?m)^SKIP: ", out) and not re.search(r"(?m)^unittest: ", out):
            verdicts[n] = "skipped"

totals = {r: [0, 0, 0] for r in ("cmocka", "busted", "python unittest", "shell")}


def add(runner, p, f, s):
    t = totals[runner]
    t[0] += p
    t[1] += f
    t[2] += s


for n in sorted(set(verdicts) | set(outputs)):
    out, verdict = outputs.get(n, ""), verdicts.get(n, "failed")
    if n.startswith("c_"):
        counts = [sum(int(x) for x in re.findall(r"(?m)^\[  %s\] (\d+) test" % w, out))
                  for w in ("PASSED  ", "FAILED  ", "SKIPPED ")]
        runner = "cmocka"
    elif n.startswith("lua_"):
        def num(word):
            return sum(int(x) for x in re.findall(r"(\d+) %s" % word, out))
        counts = [num("success"), num("failure") + num("error"), num("pending")]
        runner = "busted"
    elif n.startswith("py_"):
        found = re.findall(r"(?m)^unittest: (\d+) passed, (\d+) failed, (\d+) skipped", out)
        counts = [sum(int(c[i]) for c in found) for i in range(3)]
        if not found:  # run as python3 -m unittest: read its own closing lines
            ran = sum(int(x) for x in re.findall(r"(?m)^Ran (\d+) tests? in", out))
            bad = sum(int(x) for closing in re.findall(r"(?m)^FAILED \((.*)\)", out)
                      for x in re.findall(r"(?:failures|errors)=(\d+)", closing))
            skip = sum(int(x) for x in re.findall(r"(?m)^(?:OK|FAILED) \(.*skipped=(\d+)", out))
            counts = [max(ran - bad - skip, 0), bad, skip]
        runner = "python unittest"
    else:
        counts = [verdict == "passed", verdict == "failed", verdict == "skipped"]
        runner = "shell"
    if verdict == "failed" and counts[1] == 0:
        counts[1] = 1  # crashed, timed out or failed outside the runner's own counts
    add(runner, *[int(c) for c in counts])

for runner, (p, f, s) in totals.items():
    print("%s: %d passed, %d failed, %d skipped" % (runner, p, f, s))
p, f, s = (sum(t[i] for t in totals.values()) for i in range(3))
print("tests: %d passed, %d failed, %d skipped" % (p, f, s))
PY
