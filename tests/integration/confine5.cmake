# fs_guard's "attr" access kind judges changes of a file's metadata (chmod, chown, the utime
# family, the xattr calls by name), which strict mode makes itself on the object it judged
# (docs/SECURITY.md, "The races left, exactly"): a real guest flips the name each change acts on
# to a denied file, runs a fixed sequence natively and under the supervisor, and tries the ways
# around a deny rule.
hijack_test_guest(confine5_guest)

hijack_test(hijack_confine5_tests SOURCES confine5_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd confine5_guest hijack_agent TIMEOUT 300)
