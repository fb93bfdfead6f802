# Unit tests of daemon/control (hijack_control).
add_executable(hijack_control_unit_tests ${CMAKE_CURRENT_LIST_DIR}/control_test.cc)
target_link_libraries(hijack_control_unit_tests PRIVATE hijack_control hijack_test_support
                      GTest::gtest_main GTest::gmock)
gtest_discover_tests(hijack_control_unit_tests DISCOVERY_TIMEOUT 60)

add_executable(hijack_gatekeeper_unit_tests ${CMAKE_CURRENT_LIST_DIR}/gatekeeper_test.cc)
target_link_libraries(hijack_gatekeeper_unit_tests PRIVATE hijack_control hijack_test_support
                      GTest::gtest_main GTest::gmock nlohmann_json::nlohmann_json)
gtest_discover_tests(hijack_gatekeeper_unit_tests DISCOVERY_TIMEOUT 60)
