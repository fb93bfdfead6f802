# Unit tests of daemon/supervisor/supervisor (part of hijack_core).
add_executable(hijack_supervisor_unit_tests ${CMAKE_CURRENT_LIST_DIR}/supervisor_test.cc)
target_link_libraries(hijack_supervisor_unit_tests PRIVATE hijack_core GTest::gtest_main
                      GTest::gmock)
gtest_discover_tests(hijack_supervisor_unit_tests DISCOVERY_TIMEOUT 60)
