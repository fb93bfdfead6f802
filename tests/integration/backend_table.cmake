# The backend table and its owner (daemon/backend/backend_set.h), and every place that names
# backends: hijackd run --backend, hijackd check, the control API's Launch and Health.
hijack_test(hijack_backend_table_tests SOURCES backend_table_test.cc
  LIBS hijack_test_backend hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd hijackctl TIMEOUT 300)
