# The last races of net_guard's and exec_guard's checks (docs/SECURITY.md, "Network confinement
# in the modules", "The races left, exactly"): a real guest flips the address of a TCP Fast Open
# send and the family of a unix/netlink/vsock connect, on every backend, with and without the
# Landlock floor; an image-judging exec_guard brought by SetPolicy through `hijackd serve`.
hijack_test_guest(confine2_guest)

hijack_test(hijack_confine2_tests SOURCES confine2_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd hijackctl confine2_guest hijack_agent NEEDS hijack_policy_host TIMEOUT 300)
