# Real runtimes' own test suites under a trace of every call (runtime_suites_test.cc): CPython's
# (libpython3.11-testsuite) and GLib's (libglib2.0-tests), natively and under every backend.
# Labelled runtime_suites so that CI can count their time apart.
hijack_test(hijack_runtime_suites_tests SOURCES runtime_suites_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd hijack_agent
  TIMEOUT 600 LABELS runtime_suites)
