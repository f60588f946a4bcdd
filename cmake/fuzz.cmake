# libFuzzer build (cmake -DRK_FUZZ=ON -DCMAKE_C_COMPILER=clang; `make fuzz` does this in
# build-fuzz/). Every object, the core included, is compiled with coverage
# instrumentation and AddressSanitizer + UndefinedBehaviorSanitizer; the targets in
# tests/fuzz/ link libFuzzer's main. The gcc build never includes this file.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "RK_FUZZ needs clang (cmake -DCMAKE_C_COMPILER=clang); "
                      "found ${CMAKE_C_COMPILER_ID}")
endif()
if(RK_SANITIZE)
  message(FATAL_ERROR "RK_FUZZ already builds with ASan and UBSan; drop RK_SANITIZE")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                    -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
