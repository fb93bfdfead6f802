# The guest against its supervisor (docs/SECURITY.md, "Guest against supervisor"): a real guest
# attacks hijackd, its helpers and processes outside its tree, on every backend.
add_executable(attack_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/attack_guest.cc)
target_link_libraries(attack_guest PRIVATE Threads::Threads)

add_executable(hijack_security_tests ${CMAKE_CURRENT_LIST_DIR}/security_test.cc)
target_link_libraries(hijack_security_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_security_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>"
  HIJACK_TEST_ATTACK_GUEST="$<TARGET_FILE:attack_guest>"
  HIJACK_TEST_EXAMPLE_PLUGIN="$<TARGET_FILE:hijack_example_plugin>"
  HIJACK_TEST_POLICY_HOST="$<TARGET_FILE:hijack_policy_host>"
  HIJACK_TEST_AGENT_LIBRARY="$<TARGET_FILE:hijack_agent>")
add_dependencies(hijack_security_tests hijackd hijackctl hijack_policy_host attack_guest
                 hijack_example_plugin hijack_agent)
gtest_discover_tests(hijack_security_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
