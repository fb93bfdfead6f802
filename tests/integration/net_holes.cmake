# The network holes of net_guard and ratelimit, tried by a real guest on loopback sockets against
# every backend (docs/SECURITY.md, "Network confinement in the modules").
hijack_test_guest(net_holes_guest)

hijack_test(hijack_net_holes_tests SOURCES net_holes_test.cc
  LIBS hijack_core hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd net_holes_guest NEEDS hijack_agent TIMEOUT 300)
