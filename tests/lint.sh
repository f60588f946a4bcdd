#!/usr/bin/env bash
# The linters of make test (tests/CMakeLists.txt registers lint_luacheck and
# lint_pyflakes), from the repository root:
#   luacheck  the Lua library (lua/), the stock workflows (scripts/) and the busted specs
#             (tests/lua, busted's globals), configured by .luacheckrc;
#   pyflakes  the Python of tests/ (the emulator included) and bench/;
#   clang-format  the C of core/ and core/net/ is formatted as .clang-format says (make
#             format applies it).
# Any warning fails. A missing tool skips (exit 77, make deps installs it: lua-check,
# pyflakes3), except under CI=true, where a linter that cannot run fails.
set -u
tool=${1:?usage: tests/lint.sh luacheck|pyflakes|clang-format}
case $tool in
  luacheck) cmd=luacheck; pkg=lua-check ;;
  pyflakes) cmd=pyflakes3; pkg=pyflakes3 ;;
  clang-format) cmd=clang-format; pkg=clang-format ;;
  *) echo "lint.sh: unknown linter $tool" >&2; exit 2 ;;
esac
if ! command -v "$cmd" > /dev/null; then
  if [ "${CI:-}" = true ]; then
    echo "FAIL: $cmd is not installed and CI=true (apt-get install $pkg, or make deps)"
    exit 1
  fi
  echo "SKIP: $cmd is not installed (apt-get install $pkg, or make deps)"
  exit 77
fi
case $tool in
  luacheck)
    luacheck --no-color --codes --formatter plain lua scripts tests/lua && rc=0 || rc=$?
    files="lua/, scripts/, tests/lua/" ;;
  pyflakes)
    # The emulator's entry point has no .py ending.
    pyflakes3 tests bench tests/kube-emulator/kube-emulator && rc=0 || rc=$?
    files="tests/, bench/" ;;
  clang-format)
    clang-format --dry-run --Werror core/*.c core/*.h core/net/*.c core/net/*.h && rc=0 || rc=$?
    files="core/ (run make format)" ;;
esac
if [ "$rc" != 0 ]; then
  echo "FAIL: $cmd found the problems above in $files (fix them; a real false positive goes in .luacheckrc)"
  exit 1
fi
echo "$cmd: no warnings in $files"
