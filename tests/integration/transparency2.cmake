# The second transparency suite (tests/integration/transparency2_test.cc): thread cancellation
# through the agent and the agent's traces in the guest's environment and descriptors, natively
# and under every backend.
add_executable(transparency2_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/transparency2_guest.cc)
target_link_libraries(transparency2_guest PRIVATE Threads::Threads)
add_executable(hijack_transparency2_tests ${CMAKE_CURRENT_LIST_DIR}/transparency2_test.cc)
target_link_libraries(hijack_transparency2_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_transparency2_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_TRANSPARENCY2_GUEST="$<TARGET_FILE:transparency2_guest>"
  HIJACK_TEST_AGENT_LIBRARY="$<TARGET_FILE:hijack_agent>")
add_dependencies(hijack_transparency2_tests hijackd hijack_agent transparency2_guest)
gtest_discover_tests(hijack_transparency2_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
