# Unit tests of daemon/control (hijack_control).
hijack_test(hijack_control_unit_tests SOURCES control_test.cc
  LIBS hijack_control hijack_test_support GTest::gtest_main GTest::gmock)

hijack_test(hijack_gatekeeper_unit_tests SOURCES gatekeeper_test.cc
  LIBS hijack_control hijack_test_support GTest::gtest_main GTest::gmock
       nlohmann_json::nlohmann_json)
