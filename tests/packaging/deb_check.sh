#!/usr/bin/env bash
# make test-deb: checks the package `make deb` built in BUILD_DEB (argument 1). With
# argument 2 = arm64 (make test-arm64, after make deb-arm64) the arm64 package is checked
# the same way, its binary run under qemu-user (a stand-in for an arm64 machine).
#  - its name is rigelk8s_<version>_<arch>.deb and its Depends came from dpkg-shlibdeps
#    (the libraries the binary and the plugin link: libcurl, Lua, libyaml, PCRE2, libc;
#    never libcjson, which nothing uses);
#  - unpacked into a scratch root with dpkg -x, the binary runs from there: --version,
#    --version -v (which loads the plugin from usr/lib/rigelk8s), and render of every
#    golden Rigelfile (tests/e2e/render_golden.sh with this binary, including its
#    server-side dry run against the emulator when kubectl is installed);
#  - lintian reports nothing but the tags explained in ACCEPTED below.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-deb}
case $build in /*) ;; *) build=$src/$build ;; esac
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

version=$(sed -n 's/^project(rigelk8s VERSION \([^ ]*\).*/\1/p' "$src/CMakeLists.txt")
arch=${2:-$(dpkg --print-architecture)}
deb=$build/rigelk8s_${version}_${arch}.deb
[ -f "$deb" ] || { echo "FAIL: no $deb (run make deb)"; exit 1; }
echo "package: $deb ($(stat -c %s "$deb") bytes)"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libc6 libcurl4 liblua5.4-0 libyaml-0-2 libpcre2-8-0; do
  grep -Eq "(^|, )$lib( |,|$)" <<< "$depends" || fail "Depends lacks $lib (dpkg-shlibdeps): $depends"
done
grep -q libcjson <<< "$depends" && fail "Depends names libcjson, which nothing uses: $depends"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg -x "$deb" "$root" || { echo "FAIL: dpkg -x"; exit 1; }
bin=$root/usr/bin/rigelk8s
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64) ||
    { echo "FAIL: qemu-user is not installed (make deps-arm64)"; exit 1; }
  [ "$arch" = arm64 ] || { echo "FAIL: only arm64 is checked under qemu, not $arch"; exit 1; }
  printf '#!/bin/sh\nexec %s -L /usr/aarch64-linux-gnu %s "$@"\n' "$qemu" "$root/usr/bin/rigelk8s" > "$root/rigelk8s-qemu"
  chmod +x "$root/rigelk8s-qemu"
  bin=$root/rigelk8s-qemu
  echo "running the $arch binary under $qemu"
fi
run() { env -u RIGELK8S_LIBDIR -u RIGELK8S_LUA_DIR -u RIGELK8S_SCRIPT_DIR "$@"; }

out=$(run "$bin" --version) || fail "--version exited non-zero"
echo "$out"
[[ $out =~ ^rigelk8s\ $version\ \(commit\ [0-9a-f]{12}(-dirty)?\)$|^rigelk8s\ $version\ \(commit\ unknown\)$ ]] ||
  fail "--version printed '$out'"
out=$(run "$bin" --version -v) || fail "--version -v exited non-zero (plugin not found in usr/lib/rigelk8s?): $out"
grep -q '^libcurl: [0-9]' <<< "$out" || fail "--version -v did not load the plugin: $out"
for f in usr/lib/rigelk8s/rigelk8s-kube.so usr/share/man/man1/rigelk8s.1.gz \
         usr/share/bash-completion/completions/rigelk8s usr/share/zsh/vendor-completions/_rigelk8s \
         usr/share/fish/vendor_completions.d/rigelk8s.fish usr/share/doc/rigelk8s/changelog.gz; do
  [ -f "$root/$f" ] || fail "the package lacks /$f"
done
(cd "$src" && run "$bin" render -f examples/Rigelfile.example > "$root/example.yaml") ||
  fail "render -f examples/Rigelfile.example exited non-zero"
grep -q 'name: rigel-k8s-application' "$root/example.yaml" || fail "render of the example lacks the application"
RIGELK8S_BIN=$bin RK_SOURCE_DIR=$src bash "$src/tests/e2e/render_golden.sh" || fail "render goldens with the packaged binary"

# lintian, with the tags we leave and why:
#  no-copyright-file          the project has not chosen a licence yet; a copyright file
#                             cannot be written before it has (README, "Install").
#  maintscript-calls-ldconfig CPack (3.25) adds ldconfig to postinst/postrm whenever a .so
#                             lies under /usr/lib/*; the plugin lives in /usr/lib/rigelk8s,
#                             outside ld.so's path, so the call is useless but harmless.
#  binary-has-unneeded-section (info) CPack strips with `strip`, which keeps .comment.
ACCEPTED="no-copyright-file maintscript-calls-ldconfig binary-has-unneeded-section"
if ! command -v lintian > /dev/null; then
  echo "SKIP: lintian is not installed (make test-deb installs it as root)"
else
  tags=$(lintian -I --tag-display-limit 0 "$deb" 2>/dev/null)
  echo "lintian:"; echo "${tags:-  (nothing)}"
  while read -r level pkg tag rest; do
    [ -z "$level" ] && continue
    case " $ACCEPTED " in *" $tag "*) ;; *) fail "lintian: $level $pkg $tag $rest" ;; esac
  done <<< "$tags"
fi

if [ "$failures" -gt 0 ]; then echo "deb_check: $failures failure(s)"; exit 1; fi
echo "deb_check: OK"
