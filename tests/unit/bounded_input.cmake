# Unit tests of the bounded readers (common/bounded_*.h) and the control request limits.
add_executable(hijack_bounded_input_unit_tests ${CMAKE_CURRENT_LIST_DIR}/bounded_input_test.cc)
target_link_libraries(hijack_bounded_input_unit_tests PRIVATE hijack_control hijack_test_support
                      GTest::gtest_main GTest::gmock)
gtest_discover_tests(hijack_bounded_input_unit_tests DISCOVERY_TIMEOUT 60)
