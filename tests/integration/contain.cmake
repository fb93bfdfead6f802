# The guest tree ends with the supervisor (daemon/launcher/namespace_init.h): hijackd run and
# serve SIGKILLed under a guest that leaves an orphan behind, on every backend; and where
# unshare(2) is refused (refusing_wrapper, as under container engines' seccomp profiles).
add_executable(hijack_contain_tests ${CMAKE_CURRENT_LIST_DIR}/contain_test.cc)
target_link_libraries(hijack_contain_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_contain_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>"
  HIJACK_TEST_GUEST="$<TARGET_FILE:syscall_guest>"
  HIJACK_TEST_REFUSING_WRAPPER="$<TARGET_FILE:refusing_wrapper>"
  HIJACK_TEST_AGENT_LIBRARY="$<TARGET_FILE:hijack_agent>"
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(hijack_contain_tests hijackd hijackctl syscall_guest refusing_wrapper hijack_agent)
gtest_discover_tests(hijack_contain_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
