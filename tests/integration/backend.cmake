hijack_test(hijack_backend_tests SOURCES backend_test.cc
  LIBS hijack_test_backend GTest::gtest_main TIMEOUT 120)
