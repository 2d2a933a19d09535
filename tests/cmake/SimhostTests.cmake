# Register each Catch2 (v2) test case of TARGET as its own CTest test that runs inside a fresh simulated
# host: `simhost run --host HOST -- <test binary> "<test name>"`.
#
#   include(${PROJECT_SOURCE_DIR}/tests/cmake/SimhostTests.cmake)
#   simhost_add_catch_tests(TARGET my_tests HOST ${CMAKE_CURRENT_SOURCE_DIR}/hosts/x.toml
#                           [PREFIX "area: "] [TIMEOUT seconds] [LABELS ...] [FILTER "[tag]"])
#
# FILTER is a Catch2 test spec (usually a tag): only those test cases are registered, so one test binary
# can hold cases for several simulated hosts, each registered with its own HOST.
#
# Every test runs with SIMHOST_VERIFY_CACHE=1: simhost aborts if a change leaves a text the kernel may
# cache stale (docs/simhost.md "Caching"), so every simhost test also checks the cache's exactness.
#
# The test names are listed after each build by running the binary with --list-test-names-only *without*
# simhost (Catch's own catch_discover_tests would run the listing through the emulator), and the CTest
# include file reads that list when ctest starts. Test names must not contain ',', '[', ']' or '\'
# (Catch test-spec syntax); they fail loudly at ctest time otherwise.
set(SIMHOST_TESTS_LIST_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/SimhostListTests.cmake)

function(simhost_add_catch_tests)
  cmake_parse_arguments(ARG "" "TARGET;HOST;PREFIX;TIMEOUT;FILTER" "LABELS" ${ARGN})
  if(NOT ARG_TARGET OR NOT ARG_HOST)
    message(FATAL_ERROR "simhost_add_catch_tests: TARGET and HOST are required")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  string(MAKE_C_IDENTIFIER "${ARG_TARGET}${ARG_FILTER}" id)
  set(list_file ${CMAKE_CURRENT_BINARY_DIR}/${id}_simhost_tests.txt)
  set(include_file ${CMAKE_CURRENT_BINARY_DIR}/${id}_simhost_include.cmake)
  add_custom_command(TARGET ${ARG_TARGET} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DTEST_BINARY=$<TARGET_FILE:${ARG_TARGET}> -DLIST_FILE=${list_file}
            "-DFILTER=${ARG_FILTER}" -P ${SIMHOST_TESTS_LIST_SCRIPT}
    VERBATIM)
  # The simhost binary must be built for the tests to run, whoever builds first.
  add_dependencies(${ARG_TARGET} simhost)
  file(GENERATE OUTPUT ${include_file} CONTENT "
if(NOT EXISTS \"${list_file}\")
  add_test(\"${ARG_PREFIX}${ARG_TARGET} was not built\" \"${ARG_TARGET}_NOT_BUILT\")
  return()
endif()
file(STRINGS \"${list_file}\" names)
foreach(name IN LISTS names)
  if(name MATCHES \"[],[\\\\]\")
    add_test(\"${ARG_PREFIX}\${name} (bad name)\" \"test names must not contain , [ ] or backslash\")
    continue()
  endif()
  add_test(\"${ARG_PREFIX}\${name}\" \"$<TARGET_FILE:simhost>\" run --host \"${ARG_HOST}\" --
           \"$<TARGET_FILE:${ARG_TARGET}>\" --warn NoTests \"\${name}\")
  set_tests_properties(\"${ARG_PREFIX}\${name}\" PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS \"simhost;${ARG_LABELS}\"
                       ENVIRONMENT SIMHOST_VERIFY_CACHE=1)
endforeach()
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${include_file})
endfunction()
