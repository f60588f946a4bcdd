# Writes OUT/rigelk8s.1.gz and the bash, zsh and fish completion scripts by running BIN
# (under EMULATOR when cross-compiling). gzip -n: no timestamp, so builds are reproducible.
file(MAKE_DIRECTORY ${OUT})
string(REPLACE "," ";" EMULATOR "${EMULATOR}")   # a list, passed with , for ;
set(ENV{RIGELK8S_LUA_DIR} "")
set(ENV{RIGELK8S_SCRIPT_DIR} "")
function(run_bin out)
  execute_process(COMMAND ${EMULATOR} ${BIN} ${ARGN} OUTPUT_FILE ${out}.tmp RESULT_VARIABLE rc
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${BIN} ${ARGN} failed (${rc}): ${err}")
  endif()
  file(RENAME ${out}.tmp ${out})
endfunction()
run_bin(${OUT}/rigelk8s.1 __man)
execute_process(COMMAND gzip -9nc INPUT_FILE ${OUT}/rigelk8s.1 OUTPUT_FILE ${OUT}/rigelk8s.1.gz
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${OUT}/rigelk8s.1 failed")
endif()
run_bin(${OUT}/rigelk8s.bash completion bash)
run_bin(${OUT}/_rigelk8s completion zsh)
run_bin(${OUT}/rigelk8s.fish completion fish)
