# Real runtimes' own test suites under a trace of every call (runtime_suites_test.cc): CPython's
# (libpython3.11-testsuite) and GLib's (libglib2.0-tests), natively and under every backend.
# Labelled runtime_suites so that CI can count their time apart.
add_executable(hijack_runtime_suites_tests ${CMAKE_CURRENT_LIST_DIR}/runtime_suites_test.cc)
target_link_libraries(hijack_runtime_suites_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_runtime_suites_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_AGENT_LIBRARY="$<TARGET_FILE:hijack_agent>")
add_dependencies(hijack_runtime_suites_tests hijackd hijack_agent)
gtest_discover_tests(hijack_runtime_suites_tests DISCOVERY_TIMEOUT 60
                     PROPERTIES TIMEOUT 600 LABELS runtime_suites)
