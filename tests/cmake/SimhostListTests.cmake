# Build-time helper of SimhostTests.cmake: write TEST_BINARY's Catch2 test names to LIST_FILE.
# FILTER (optional) is a Catch2 test spec such as "[intel-x710]".
execute_process(COMMAND ${TEST_BINARY} --list-test-names-only ${FILTER}
                OUTPUT_VARIABLE names RESULT_VARIABLE result)
# Catch2 v2 returns the number of listed tests as its exit status, so only a crash is an error.
if(NOT result MATCHES "^[0-9]+$")
  message(FATAL_ERROR "${TEST_BINARY} --list-test-names-only failed: ${result}")
endif()
string(REGEX REPLACE "\n+$" "" names "${names}")
file(WRITE ${LIST_FILE} "${names}\n")
