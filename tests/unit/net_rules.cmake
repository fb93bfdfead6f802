# Unit tests of net_guard's and ratelimit's settings: empty lists, socket-type selectors, bad
# settings by JSON path, per-datagram costs.
add_executable(hijack_net_rules_tests ${CMAKE_CURRENT_LIST_DIR}/net_rules_test.cc)
target_link_libraries(hijack_net_rules_tests PRIVATE hijack_core GTest::gtest_main GTest::gmock)
gtest_discover_tests(hijack_net_rules_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
