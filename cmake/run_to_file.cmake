# cmake -DPROGRAM=... -DARGS="a;b" -DOUTPUT=FILE -P run_to_file.cmake: runs PROGRAM ARGS and
# writes what it prints to FILE; fails (and leaves no FILE) when it fails.
execute_process(COMMAND ${PROGRAM} ${ARGS}
                OUTPUT_FILE ${OUTPUT}.tmp
                ERROR_VARIABLE error
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(REMOVE ${OUTPUT}.tmp)
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: exit ${result}: ${error}")
endif()
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
