# Bad input: malformed policy files for hijackd check/run, malformed requests for hijackd serve
# over its socket (a C++ client of the generated stub).
hijack_test(hijack_bad_input_tests SOURCES bad_input_test.cc
  LIBS hijack_core hijack_proto hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd hijackctl TIMEOUT 300)
