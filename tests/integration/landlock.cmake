# The kernel-enforced floor (daemon/launcher/landlock_ruleset.h): a real guest attacks fs_guard,
# exec_guard and net_guard rules the ways name matching can miss, on every backend, with the
# Landlock floor and without it (--no-landlock).
hijack_test_guest(landlock_guest)

hijack_test(hijack_landlock_tests SOURCES landlock_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd hijackctl landlock_guest hijack_agent TIMEOUT 300)
