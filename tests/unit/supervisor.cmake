# Unit tests of daemon/supervisor/supervisor (part of hijack_core).
hijack_test(hijack_supervisor_unit_tests SOURCES supervisor_test.cc
  LIBS hijack_core GTest::gtest_main GTest::gmock)
