# The hard cases of tracing (job control, signals, exec from a thread, vfork, spawn chains,
# threads, kills while held) over every backend, and ptrace-only behaviour.
add_executable(hijack_ptrace_tests ${CMAKE_CURRENT_LIST_DIR}/ptrace_test.cc)
target_link_libraries(hijack_ptrace_tests PRIVATE hijack_test_backend GTest::gtest_main)
target_compile_definitions(hijack_ptrace_tests PRIVATE
  HIJACK_TEST_GUEST="$<TARGET_FILE:syscall_guest>")
add_dependencies(hijack_ptrace_tests syscall_guest)
gtest_discover_tests(hijack_ptrace_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)

# hijackd run with --backend auto/ptrace where seccomp is missing, and ptrace-only output.
add_executable(hijack_ptrace_run_tests ${CMAKE_CURRENT_LIST_DIR}/ptrace_run_test.cc)
target_link_libraries(hijack_ptrace_run_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_ptrace_run_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_GUEST="$<TARGET_FILE:syscall_guest>"
  HIJACK_TEST_REFUSING_WRAPPER="$<TARGET_FILE:refusing_wrapper>"
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(hijack_ptrace_run_tests hijackd syscall_guest refusing_wrapper)
gtest_discover_tests(hijack_ptrace_run_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
