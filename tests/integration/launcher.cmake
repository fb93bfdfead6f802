# hijackd run where a seccomp profile forbids calls (as container engines' profiles do): the
# notify launch's listener handover, auto's choice, guest memory reads; the guest's view of the
# handover.
add_executable(hijack_launcher_run_tests ${CMAKE_CURRENT_LIST_DIR}/launcher_handover_test.cc)
target_link_libraries(hijack_launcher_run_tests PRIVATE hijack_test_support PkgConfig::SECCOMP
                      GTest::gtest_main GTest::gmock)
target_compile_definitions(hijack_launcher_run_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_GUEST="$<TARGET_FILE:syscall_guest>"
  HIJACK_TEST_REFUSING_WRAPPER="$<TARGET_FILE:refusing_wrapper>"
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(hijack_launcher_run_tests hijackd syscall_guest refusing_wrapper)
gtest_discover_tests(hijack_launcher_run_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
