# Real-time services (daemon/modules/cpushare): CPU reservations on real guests under hijackd,
# by every mechanism this host offers, on every backend; live SetPolicy; cleanup; bad settings.
hijack_test_guest(rt_guest)

hijack_test(hijack_rt_tests SOURCES rt_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd hijackctl rt_guest TIMEOUT 300)
