# Unit tests of the bounded readers (common/bounded_*.h) and the control request limits.
hijack_test(hijack_bounded_input_unit_tests SOURCES bounded_input_test.cc
  LIBS hijack_control hijack_test_support GTest::gtest_main GTest::gmock)
