# End-to-end tests of the control API: hijackd serve / run --listen, hijackctl, lighttpd.
add_executable(hijack_e2e_control_tests ${CMAKE_CURRENT_LIST_DIR}/control_test.cc)
target_link_libraries(hijack_e2e_control_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock nlohmann_json::nlohmann_json)
target_compile_definitions(hijack_e2e_control_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>")
add_dependencies(hijack_e2e_control_tests hijackd hijackctl)
gtest_discover_tests(hijack_e2e_control_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
