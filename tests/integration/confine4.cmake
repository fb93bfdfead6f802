# fs_guard strict mode makes unlink, rmdir, mkdir, mknod, symlink and truncate itself, and O_PATH
# opens answer as the kernel does (docs/SECURITY.md, "The races left, exactly"): a real guest
# flips the name each call acts on to a denied one, runs a fixed sequence natively and under the
# supervisor, and tries the ways around a deny rule.
hijack_test_guest(confine4_guest)

hijack_test(hijack_confine4_tests SOURCES confine4_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd confine4_guest hijack_agent TIMEOUT 300)
