# Messages that say what to do: launches ended by exec_guard or fs_guard, denied calls with their
# module, rule and decoded path, ENOENT-anyway counted apart, `hijackd check POLICY -- PROGRAM`
# warnings, NO_COLOR and terminal width; real hijackd runs over every backend.
add_executable(hijack_messages_tests ${CMAKE_CURRENT_LIST_DIR}/messages_test.cc)
target_link_libraries(hijack_messages_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_messages_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_GUEST="$<TARGET_FILE:syscall_guest>"
  HIJACK_TEST_REFUSING_WRAPPER="$<TARGET_FILE:refusing_wrapper>"
  HIJACK_TEST_AGENT_LIBRARY="$<TARGET_FILE:hijack_agent>"
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(hijack_messages_tests hijackd syscall_guest refusing_wrapper hijack_agent)
gtest_discover_tests(hijack_messages_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
