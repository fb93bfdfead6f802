# The command lines of hijackd and hijackctl as a user types them: --version, the run command
# without --, options after the command name, unknown commands, exit statuses, health.
add_executable(hijack_cli_tests ${CMAKE_CURRENT_LIST_DIR}/cli_test.cc)
target_link_libraries(hijack_cli_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_cli_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>"
  HIJACK_TEST_GUEST="$<TARGET_FILE:syscall_guest>"
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(hijack_cli_tests hijackd hijackctl syscall_guest)
gtest_discover_tests(hijack_cli_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
