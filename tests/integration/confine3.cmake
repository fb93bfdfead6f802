# fs_guard strict mode makes links and renames itself (docs/SECURITY.md, "The races left,
# exactly"): a real guest flips the old name of link/rename to a denied file while the supervisor
# judges it, and runs a fixed sequence of links and renames natively and under the supervisor.
hijack_test_guest(confine3_guest)

hijack_test(hijack_confine3_tests SOURCES confine3_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd confine3_guest hijack_agent TIMEOUT 300)
