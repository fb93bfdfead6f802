# Unit tests of net_guard's and ratelimit's settings: empty lists, socket-type selectors, bad
# settings by JSON path, per-datagram costs.
hijack_test(hijack_net_rules_tests SOURCES net_rules_test.cc
  LIBS hijack_core GTest::gtest_main GTest::gmock TIMEOUT 120)
