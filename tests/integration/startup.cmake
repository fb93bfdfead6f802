# What `hijackd run` loads at start-up (daemon/control/control_plane.h): no control plane unless
# --listen asks for it.
hijack_test(hijack_startup_tests SOURCES startup_test.cc
  LIBS hijack_test_support GTest::gtest_main
  RUNS hijackd hijack_agent TIMEOUT 120)
