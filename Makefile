# The front door. `make demo` and `make test` are all a newcomer needs.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
DEB_PACKAGES = liblua5.4-dev libcurl4-openssl-dev libyaml-dev libcjson-dev libcmocka-dev \
               lua-busted cmake pkg-config
BENCH_PACKAGES = lua-yaml lua5.4 time hyperfine

.PHONY: all deps build test test-asan demo bench clean

all: build

# Installs what is missing with apt-get when root; otherwise prints the command to run.
deps:
	@missing=$$(for p in $(DEB_PACKAGES) $(EXTRA_PACKAGES); do \
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

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
