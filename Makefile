# The front door. `make demo` and `make test` are all a newcomer needs.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
DEB_PACKAGES = liblua5.4-dev libcurl4-openssl-dev libyaml-dev libcjson-dev libcmocka-dev \
               lua-busted cmake pkg-config libexpat1-dev
# The real ROS 1 master and client library: the ROS graph gate is tested against them.
ROS_TEST_PACKAGES = python3-rosmaster python3-rospy python3-roslaunch
BENCH_PACKAGES = lua-yaml lua5.4 time hyperfine

BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= yaml json kubeconfig template watch lua_codec rigelfile
FUZZ_PACKAGES = clang libclang-rt-14-dev
VALGRIND_PACKAGES = valgrind python3

.PHONY: all deps build test test-asan demo bench clean fuzz valgrind

all: build

# Installs what is missing with apt-get when root; otherwise prints the command to run.
deps:
	@missing=$$(for p in $(DEB_PACKAGES) $(ROS_TEST_PACKAGES) $(EXTRA_PACKAGES); do \
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
	@ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure --timeout 600; rc=$$?; \
	  tests/summary.sh $(BUILD); exit $$rc

$(BUILD_ASAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DRK_SANITIZE=ON

test-asan: deps $(BUILD_ASAN)/CMakeCache.txt
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD_ASAN) -j $(JOBS) --output-on-failure --timeout 900; rc=$$?; \
	  tests/summary.sh $(BUILD_ASAN); exit $$rc

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

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
