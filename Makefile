# The front door. `make demo` and `make test` are all a newcomer needs.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
DEB_PACKAGES = liblua5.4-dev libcurl4-openssl-dev libssl-dev libyaml-dev libpcre2-dev libcmocka-dev \
               lua-busted cmake pkg-config libexpat1-dev
# The real ROS 1 master and client library: the ROS graph gate is tested against them.
ROS_TEST_PACKAGES = python3-rosmaster python3-rospy python3-roslaunch
BENCH_PACKAGES = lua-yaml lua5.4 time hyperfine
# What make test needs so that nothing it promises is skipped: valgrind for the memcheck,
# kubectl for the cross-checks (Debian's kubernetes-client, only when no kubectl is on PATH:
# an existing kubectl is kept).
TEST_PACKAGES = valgrind python3 $(if $(shell command -v kubectl 2>/dev/null),,kubernetes-client)
# The completion tests drive zsh and fish too; the man page test renders with man-db.
DEB_PACKAGES += zsh fish man-db
# The linters of make test (tests/lint.sh): luacheck, pyflakes and clang-format.
DEB_PACKAGES += lua-check pyflakes3 clang-format

BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= yaml json kubeconfig template watch lua_codec rigelfile
FUZZ_PACKAGES = clang libclang-rt-14-dev
VALGRIND_PACKAGES = valgrind python3

.PHONY: all deps build test test-asan demo bench clean fuzz valgrind format

all: build

# Installs what is missing with apt-get when root; otherwise prints the command to run.
deps:
	@missing=$$(for p in $(DEB_PACKAGES) $(TEST_PACKAGES) $(ROS_TEST_PACKAGES) $(EXTRA_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "make deps: installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
	  echo "make deps: missing Debian packages. Run:"; \
	  echo "  sudo apt-get install -y $$missing"; exit 1; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure --timeout 600 --output-junit Testing/junit.xml; rc=$$?; \
	  tests/summary.sh $(BUILD); exit $$rc

$(BUILD_ASAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DRK_SANITIZE=ON

test-asan: deps $(BUILD_ASAN)/CMakeCache.txt
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD_ASAN) -j $(JOBS) --output-on-failure --timeout 900 --output-junit Testing/junit.xml; rc=$$?; \
	  tests/summary.sh $(BUILD_ASAN); exit $$rc

# Reformats the C of core/ with clang-format (.clang-format: the majority style of core/).
FORMAT_SOURCES = $(wildcard core/*.c core/*.h core/net/*.c core/net/*.h)
format:
	clang-format -i $(FORMAT_SOURCES)

demo: build
	examples/demo.sh $(BUILD)/rigelk8s

bench: EXTRA_PACKAGES = $(BENCH_PACKAGES)
bench: build
	bench/run.sh $(BUILD)/rigelk8s

# libFuzzer targets (tests/fuzz/) built with clang, ASan and UBSan in $(BUILD_FUZZ), run one
# after another for FUZZ_SECONDS each; fails if any crashed. make fuzz FUZZ_SECONDS=600
# FUZZ_TARGETS=template runs one target longer.
fuzz: EXTRA_PACKAGES = $(FUZZ_PACKAGES)
fuzz: deps
	cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DRK_FUZZ=ON -DRK_TESTS=OFF \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD_FUZZ) --target fuzz_all -j $(JOBS)
	tests/fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Deploy, update and delete against the emulator under valgrind memcheck: no definite or
# indirect leaks, no invalid reads or writes.
valgrind: EXTRA_PACKAGES = $(VALGRIND_PACKAGES)
valgrind: build
	RK_VALGRIND_REQUIRED=1 tests/e2e/valgrind.sh $(BUILD)/rigelk8s

# Load and soak (not part of make test): 50 concurrent deploy/update/delete cycles over
# 2,000 live objects on the emulator, plus one long-lived process; every process's peak
# RSS must stay flat from the first cycles to the last. About a minute on 2 cores.
.PHONY: soak
soak: EXTRA_PACKAGES = time
soak: build
	python3 tests/soak/soak.py --bin $(BUILD)/rigelk8s

# The e2e suites (workflows, examples, sequences, fleet) against a cluster of yours instead
# of the emulators the tests start: make test-cluster KUBECONFIG=~/.kube/config
# [RIGELK8S_TEST_CONTEXT=kind-kind]. Never part of make test (CI has no cluster); make test
# runs a subset of it against a kube-emulator (tests/e2e/cluster_mode_on_emulator.sh).
.PHONY: test-cluster
test-cluster: build
	tests/cluster/run.sh $(BUILD)/rigelk8s
# Install (README, "Install"): the binary in $(PREFIX)/bin, its plugin in
# $(PREFIX)/lib/rigelk8s, the man page and the bash, zsh and fish completions. DESTDIR
# stages the tree elsewhere (make install DESTDIR=/tmp/x). The build directory is
# reconfigured only when PREFIX differs from the one it was built for (the binary keeps
# it as the last place to look for its plugin).
PREFIX ?= /usr/local
.PHONY: install uninstall
install: build
	@cur=$$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' $(BUILD)/CMakeCache.txt); \
	if [ "$$cur" != "$(PREFIX)" ]; then \
	  cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null && \
	  cmake --build $(BUILD) -j $(JOBS); \
	fi
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

# Removes what the last make install of $(BUILD) installed (its install_manifest.txt),
# under the same DESTDIR.
uninstall:
	cmake -DMANIFEST=$(BUILD)/install_manifest.txt "-DDESTDIR=$(DESTDIR)" -P cmake/uninstall.cmake

# A Debian package, rigelk8s_<version>_<arch>.deb, by CPack (see cmake/package.cmake),
# from a RelWithDebInfo build (stripped) in $(BUILD_DEB). test-deb unpacks it into a scratch root, runs it
# there and checks it with lintian.
BUILD_DEB ?= build-deb
DEB_TOOL_PACKAGES = dpkg-dev file
.PHONY: deb test-deb
deb: EXTRA_PACKAGES = $(DEB_TOOL_PACKAGES)
# Compiler and linker flags are Debian's (dpkg-buildflags, all hardening on).
DEB_FLAGS = DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get
deb: deps
	cmake -S . -B $(BUILD_DEB) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr -DRK_TESTS=OFF \
	  -DCMAKE_C_FLAGS="$$($(DEB_FLAGS) CFLAGS) $$($(DEB_FLAGS) CPPFLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$$($(DEB_FLAGS) LDFLAGS)" \
	  -DCMAKE_MODULE_LINKER_FLAGS="$$($(DEB_FLAGS) LDFLAGS)" >/dev/null
	rm -f $(BUILD_DEB)/rigelk8s_*.deb
	cmake --build $(BUILD_DEB) -j $(JOBS)
	cd $(BUILD_DEB) && cpack -G DEB >/dev/null && ls -1 $(CURDIR)/$(BUILD_DEB)/rigelk8s_*.deb
test-deb: EXTRA_PACKAGES = $(DEB_TOOL_PACKAGES) lintian
test-deb: deb
	tests/packaging/deb_check.sh $(BUILD_DEB)

# arm64 (README, "Install"): a cross build with Debian's crossbuild-essential-arm64 and
# the :arm64 -dev packages (multiarch), then its checks under qemu-user: --version, a
# render golden and a deploy against the emulator. deps-arm64 adds the arm64
# architecture to dpkg and installs them (root).
BUILD_ARM64 ?= build-arm64
ARM64_PACKAGES = crossbuild-essential-arm64 qemu-user-static liblua5.4-dev:arm64 \
                 libcurl4-openssl-dev:arm64 libyaml-dev:arm64 libpcre2-dev:arm64
.PHONY: deps-arm64 cross-arm64 test-arm64
deps-arm64:
	@missing=$$(for p in $(ARM64_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "make deps-arm64: missing Debian packages. Run:"; \
	  echo "  sudo dpkg --add-architecture arm64 && sudo apt-get update && sudo apt-get install -y $$missing"; \
	  exit 1; \
	fi; \
	echo "make deps-arm64: installing $$missing"; \
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing

cross-arm64: deps-arm64
	cmake -S . -B $(BUILD_ARM64) -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRK_TESTS=OFF >/dev/null
	cmake --build $(BUILD_ARM64) -j $(JOBS)
	@file $(BUILD_ARM64)/rigelk8s $(BUILD_ARM64)/rigelk8s-kube.so 2>/dev/null || true

# The arm64 Debian package, cross-built like make deb (dpkg-shlibdeps reads the arm64
# libraries' symbols files).
BUILD_DEB_ARM64 ?= build-deb-arm64
DEB_FLAGS_ARM64 = DEB_BUILD_MAINT_OPTIONS=hardening=+all DEB_HOST_ARCH=arm64 dpkg-buildflags --get
.PHONY: deb-arm64
deb-arm64: EXTRA_PACKAGES = $(DEB_TOOL_PACKAGES)
deb-arm64: deps deps-arm64
	cmake -S . -B $(BUILD_DEB_ARM64) -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr -DRK_TESTS=OFF \
	  -DCMAKE_C_FLAGS="$$($(DEB_FLAGS_ARM64) CFLAGS) $$($(DEB_FLAGS_ARM64) CPPFLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$$($(DEB_FLAGS_ARM64) LDFLAGS)" \
	  -DCMAKE_MODULE_LINKER_FLAGS="$$($(DEB_FLAGS_ARM64) LDFLAGS)" >/dev/null
	rm -f $(BUILD_DEB_ARM64)/rigelk8s_*.deb
	cmake --build $(BUILD_DEB_ARM64) -j $(JOBS)
	cd $(BUILD_DEB_ARM64) && DEB_HOST_ARCH=arm64 cpack -G DEB >/dev/null && \
	  ls -1 $(CURDIR)/$(BUILD_DEB_ARM64)/rigelk8s_*_arm64.deb

test-arm64: EXTRA_PACKAGES = $(DEB_TOOL_PACKAGES) lintian
test-arm64: cross-arm64 deb-arm64
	python3 tests/packaging/arm64_check.py $(BUILD_ARM64)
	tests/packaging/deb_check.sh $(BUILD_DEB_ARM64) arm64


clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_DEB) $(BUILD_ARM64) $(BUILD_DEB_ARM64)
